/**
 * Session settings of the aql shell (`SET`, `GET`, `GET ALL`, `RESET`), as in aql's option table.
 * Settings travel with every statement to the server executor.
 */
import { DbError } from '../../errors/index.ts';

export type OutputMode = 'TABLE' | 'JSON' | 'RAW' | 'MUTE';

export interface Settings {
  readonly ECHO: boolean;
  readonly VERBOSE: boolean;
  readonly OUTPUT: OutputMode;
  readonly OUTPUT_TYPES: boolean;
  readonly TIMEOUT: number;
  readonly RECORD_TTL: number;
  readonly RECORD_PRINT_METADATA: boolean;
  readonly KEY_SEND: boolean;
  readonly DURABLE_DELETE: boolean;
  readonly SCAN_RECORDS_PER_SECOND: number;
  readonly NO_BINS: boolean;
}

export type SettingName = keyof Settings;

type Spec =
  | { readonly type: 'bool' }
  | { readonly type: 'int'; readonly min: number }
  | { readonly type: 'enum'; readonly values: readonly string[] };

export const SETTING_SPECS: Readonly<Record<SettingName, Spec>> = {
  ECHO: { type: 'bool' },
  VERBOSE: { type: 'bool' },
  OUTPUT: { type: 'enum', values: ['TABLE', 'JSON', 'RAW', 'MUTE'] },
  OUTPUT_TYPES: { type: 'bool' },
  TIMEOUT: { type: 'int', min: 0 },
  RECORD_TTL: { type: 'int', min: -2 },
  RECORD_PRINT_METADATA: { type: 'bool' },
  KEY_SEND: { type: 'bool' },
  DURABLE_DELETE: { type: 'bool' },
  SCAN_RECORDS_PER_SECOND: { type: 'int', min: 0 },
  NO_BINS: { type: 'bool' },
};

export const DEFAULT_SETTINGS: Settings = {
  ECHO: false,
  VERBOSE: false,
  OUTPUT: 'TABLE',
  OUTPUT_TYPES: true,
  TIMEOUT: 1000,
  RECORD_TTL: 0,
  RECORD_PRINT_METADATA: false,
  KEY_SEND: true,
  DURABLE_DELETE: false,
  SCAN_RECORDS_PER_SECOND: 0,
  NO_BINS: false,
};

export const SETTING_NAMES = Object.keys(SETTING_SPECS) as SettingName[];

export function isSettingName(name: string): name is SettingName {
  return Object.hasOwn(SETTING_SPECS, name);
}

/** Checks a setting name (case-insensitive); returns its canonical upper-case form. */
export function settingName(name: string): SettingName {
  const up = name.toUpperCase();
  if (!isSettingName(up)) {
    throw new DbError('PARAMETER', `Unknown setting '${name}'`, { hint: `settings are ${SETTING_NAMES.join(', ')}` });
  }
  return up;
}

/** Parses a value for a setting (booleans: TRUE/T/1/FALSE/F/0; enums case-insensitive); returns the typed value. */
export function parseSettingValue(name: SettingName, text: string): boolean | number | string {
  const spec = SETTING_SPECS[name];
  const up = text.toUpperCase();
  switch (spec.type) {
    case 'bool':
      if (up === 'TRUE' || up === 'T' || up === '1') return true;
      if (up === 'FALSE' || up === 'F' || up === '0') return false;
      throw new DbError('PARAMETER', `${name} takes true or false, not '${text}'`, { hint: `SET ${name} true` });
    case 'int': {
      if (!/^-?\d+$/.test(text) || Number(text) < spec.min || !Number.isSafeInteger(Number(text))) {
        throw new DbError('PARAMETER', `${name} takes an integer${spec.min >= 0 ? ' ≥ 0' : ` ≥ ${spec.min}`}, not '${text}'`, { hint: `SET ${name} 1000` });
      }
      return Number(text);
    }
    case 'enum':
      if (!spec.values.includes(up)) {
        throw new DbError('PARAMETER', `${name} takes ${spec.values.join(', ')}, not '${text}'`, { hint: `SET ${name} ${spec.values[0] ?? ''}` });
      }
      return up;
  }
}

/** The canonical text of a setting value, as `GET` prints it. */
export function settingText(value: boolean | number | string): string {
  return String(value);
}

export function withSetting(settings: Settings, name: SettingName, value: boolean | number | string): Settings {
  return { ...settings, [name]: value };
}

/** `NAME = value` lines, as aql prints them for SET, GET and RESET. */
export function settingLine(settings: Settings, name: SettingName): string {
  return `${name} = ${settingText(settings[name])}`;
}
