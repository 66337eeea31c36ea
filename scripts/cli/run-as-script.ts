/**
 * How a command (`npm run upload`, `npm run status`, `npm run redrive`) ends: `main`'s answer is the exit code; an
 * error is printed as its message only, and exits 2 when the command line itself was wrong (as
 * `main` answers for the usage errors it finds), 1 otherwise.
 *
 * @module
 */
import { pathToFileURL } from 'node:url';

/** parseArgs' refusals of the command line (unknown option, missing value, unexpected argument). */
const isCommandLineError = (error: unknown): boolean => String((error as { code?: unknown } | undefined)?.code).startsWith('ERR_PARSE_ARGS_');

/**
 * Runs `main` on the command line's arguments and exits with its code, when the module at
 * `moduleUrl` (its `import.meta.url`) is the script node was started with: a test that imports
 * the module calls `main` itself.
 */
export const runAsScript = (moduleUrl: string, main: (argv: readonly string[]) => Promise<number>): void => {
  if (process.argv[1] === undefined || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(isCommandLineError(error) ? 2 : 1);
    },
  );
};
