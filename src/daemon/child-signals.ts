// Signal policy of lvsd's child processes (the checker process, the script helper).
// Imported first by their entry points, so it holds from the first instant of the child's life.
//
// A signal to the whole process group (systemd's KillMode=control-group, Ctrl-C in a terminal)
// is meant for the daemon, which then stops its children in order (after its notify_stop
// scripts have run through the helper). So a child ignores SIGTERM/SIGINT while its parent is
// connected; an orphan (parent gone) stops on a signal as usual, through `onOrphanSignal`, or
// exits at once if the child has not set one up yet.
let handler: (() => void) | null = null;

const onSignal = (): void => {
  if (process.connected) return;
  if (handler) handler();
  else process.exit(0);
};
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);

/** What an orphaned child does on SIGTERM/SIGINT (its clean stop). */
export function onOrphanSignal(fn: () => void): void {
  handler = fn;
}
