// Snapshot serializer: asset hashes (64 hex chars) change with any handler or library change; replace them so a
// snapshot changes only when the template does.
const HASH = /[0-9a-f]{64}/g;
module.exports = {
  test: (val) => typeof val === 'string' && /[0-9a-f]{64}/.test(val),
  serialize: (val, config, indentation, depth, refs, printer) =>
    printer(val.replace(HASH, '<asset-hash>'), config, indentation, depth, refs),
};
