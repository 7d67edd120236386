// ESLint (flat config) for the whole tree; `npm run lint` runs it and `npm test` runs that.
// Formatting is prettier's job (eslint-config-prettier switches off the rules that would fight it).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

export default tseslint.config(
  {
    ignores: ['node_modules/', 'cdk.out/', 'coverage/', 'rehearsal-out/', '.rushhour/', '**/*.d.ts', 'bin/rushhour.js'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      // Prettier wraps code at 120; this catches what it cannot wrap (comments). Long string and template
      // literals stay whole so that messages can be found with grep.
      'max-len': [
        'error',
        { code: 120, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true },
      ],
      // Unused arguments are part of handler signatures (fastify, ssh2 callbacks); name them _x.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        __dirname: 'readonly',
        console: 'readonly',
      },
    },
  },
  {
    // k6 scripts run in k6's runtime, not Node.
    files: ['loadtest/scenarios/**/*.ts'],
    languageOptions: {
      globals: { __ENV: 'readonly', __VU: 'readonly', __ITER: 'readonly', open: 'readonly', console: 'readonly' },
    },
  },
);
