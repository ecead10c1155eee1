import { readFile, writeFile } from 'node:fs/promises';

const START = '<!-- bench:results:start -->';
const END = '<!-- bench:results:end -->';

/**
 * Replaces the generated part of a Markdown document (between the `bench:results` markers),
 * keeping the prose around it; a missing document starts from a skeleton.
 *
 * @throws {Error} when the document exists without both markers.
 */
export async function publishSection(path: string, section: string): Promise<void> {
  let document = `# Benchmarks\n\n${START}\n${END}\n`;
  try {
    document = await readFile(path, 'utf8');
  } catch {
    // First publish: start from the skeleton.
  }
  const start = document.indexOf(START);
  const end = document.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${path} lacks the ${START} … ${END} markers`);
  await writeFile(
    path,
    `${document.slice(0, start + START.length)}\n${section}${document.slice(end)}`,
  );
}
