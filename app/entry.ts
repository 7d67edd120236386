// The bundle's entry: `node app.js` starts the server with settings from the environment.
import { main } from './main';

main().catch((err: Error) => {
  console.error(`rushhour app: ${err.message}`);
  process.exit(1);
});
