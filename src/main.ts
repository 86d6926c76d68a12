/** Process entry for `node dist/src/main.js`: the same as `tradeql serve`. */
process.argv.splice(2, 0, 'serve');
require('./cli');
