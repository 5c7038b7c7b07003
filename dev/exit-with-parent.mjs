// Preloaded (`node --import`) into a child that `npm start` forks but does not own the code of
// (the Agents Playground): when the launcher goes away, even by SIGKILL, its IPC channel
// closes and the child exits, so no orphan keeps a port.
import process from 'node:process';

process.on('disconnect', () => process.exit(0));
