/** How the shell prints an AQL error found before execution (aql's wording first, then ours). */
import { AqlError, caretLines } from '../../language/errors.ts';

const HINTS = 'Make sure string values are enclosed in quotes.\nType " aql --help " from console or simply "help" from within the aql-prompt. \n\n';

export function renderAqlError(err: AqlError, source: string): { stdout: string; stderr: string } {
  if (err.aqlText.startsWith('ERROR: 404')) {
    return { stdout: `\n${err.aqlText}\n`, stderr: `${err.message}\n\n` };
  }
  if (err.code === 'CLIENT_ERROR') {
    return { stdout: '', stderr: `Error: (${err.resultCode}) ${err.aqlText}\n${err.message}${err.hint ? `. ${err.hint}` : ''}\n${caretLines(source, err)}\n\n` };
  }
  const detail = `${err.message}${err.hint ? `. Hint: ${err.hint}` : ''}`;
  return { stdout: '', stderr: `${err.aqlText} \n${detail}\n${caretLines(source, err)}\n${HINTS}` };
}
