/**
 * `portcullis schema`: prints the JSON Schema of the config (src/config/json-schema.ts) for editors
 * (`# yaml-language-server: $schema=…`) and CI. Exit code 0, 2 for a usage error.
 */
import { parseArgs } from 'node:util';
import { configJsonSchema } from '../config/json-schema.ts';
import { processIo, type CliIo } from './validate.ts';

export const SCHEMA_USAGE = `usage: portcullis schema
  Prints the JSON Schema (draft 2020-12) of the config, generated from the schema that validates a start: every key
  with its description and default; unknown keys are refused. Save it and point your editor at it:
    npx portcullis schema > portcullis.schema.json
    # yaml-language-server: $schema=./portcullis.schema.json     (first line of the config)
Exit code: 0, 2 usage error.`;

export function runSchema(argv: readonly string[], io: CliIo = processIo): number {
  try {
    const { values } = parseArgs({ args: [...argv], options: { help: { type: 'boolean', short: 'h' } } });
    if (values.help) {
      io.out(`${SCHEMA_USAGE}\n`);
      return 0;
    }
  } catch (e) {
    io.err(`portcullis schema: ${(e as Error).message}\n${SCHEMA_USAGE}\n`);
    return 2;
  }
  io.out(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  return 0;
}
