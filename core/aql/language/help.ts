/** HELP text, by topic. */
const TOPICS: Record<string, string> = {
  INSERT: "INSERT INTO <ns>[.<set>] (PK, <bin>[, …]) VALUES (<key>, <value>[, …])\n  upsert: creates the record or merges bins; NULL removes a bin",
  UPDATE: 'UPDATE <ns>[.<set>] SET <bin> = <value>[, …] WHERE PK = <key>\n  update-only: fails with (2) when the record does not exist',
  SELECT: 'SELECT * | <bin>[, …] FROM <ns>[.<set>] [WHERE PK = <key>] [LIMIT <n>]\n  keys: PK = <int|\'str\'>, DIGEST = \'<40 hex>\', EDIGEST = \'<base64>\'\n  queries (with secondary indexes): [IN LIST|MAPKEYS|MAPVALUES] WHERE <expression> [ORDER BY <bin> [ASC|DESC]]',
  DELETE: 'DELETE FROM <ns>[.<set>] WHERE PK = <key>',
  OPERATE: 'OPERATE <op>(<bin>, <args>…)[, …] ON <ns>[.<set>] WHERE PK = <key>\n  ops: TOUCH, READ, WRITE, APPEND, PREPEND, INCR, LIST_*, MAP_*',
  TRUNCATE: 'TRUNCATE <ns>[.<set>] [UPTO <nanoseconds> | \'<date>\']',
  EXPLAIN: 'EXPLAIN SELECT … WHERE PK = <key>',
  SHOW: 'SHOW NAMESPACES | SETS | BINS | INDEXES [<ns>] | MODULES | JOBS | CLUSTER | PARTITIONS [<ns>] | PLUGINS | CONFIG',
  STAT: 'STAT SYSTEM | NAMESPACE <ns> | INDEX <ns> <index>',
  SET: 'SET <setting> <value>; GET <setting>; GET ALL; RESET <setting>; SET CONFIG <node setting> <value> (live configuration)\n  settings: OUTPUT TABLE|JSON|RAW|MUTE, OUTPUT_TYPES, TIMEOUT, RECORD_TTL, KEY_SEND, DURABLE_DELETE,\n  RECORD_PRINT_METADATA, ECHO, VERBOSE, NO_BINS, SCAN_RECORDS_PER_SECOND',
  RUN: "RUN '<file>'  runs a file statement by statement, echoing each",
  INDEX: 'CREATE [LIST|MAPKEYS|MAPVALUES] INDEX <name> ON <ns>[.<set>] (<bin>) NUMERIC|STRING|BLOB|GEO2DSPHERE\nDROP INDEX <ns>[.<set>] <name>',
  MODULE: "REGISTER MODULE '<path>'; REMOVE MODULE <file>; SHOW MODULES; DESC MODULE <file>",
  EXECUTE: 'EXECUTE <module>.<fn>(<args>) ON <ns>[.<set>] [WHERE PK = <key> | WHERE <expression>]',
  AGGREGATE: 'AGGREGATE <module>.<fn>(<args>) ON <ns>[.<set>] [WHERE <expression>]',
  VALUES: "values: 'str' \"str\" 123 0x1F 1.5 true false NULL JSON('…') LIST('[…]') MAP('{…}') GEOJSON('…') BYTES('hex')\n  CAST(<v> AS INT|FLOAT|STRING|BOOL|JSON|LIST|MAP|GEOJSON) or INT(<v>), FLOAT(<v>), …",
};

export function helpText(topic: string | null): string {
  if (topic !== null) {
    const first = topic.split(' ').find((w) => Object.hasOwn(TOPICS, w)) ?? (topic.includes('INDEX') ? 'INDEX' : undefined);
    if (first !== undefined) return TOPICS[first] as string;
    return `No help for ${topic}. Topics: ${Object.keys(TOPICS).join(', ')}`;
  }
  return `${Object.values(TOPICS).join('\n')}\n\nStatements may span lines; end them with ';' to be sure. Comments: -- and #. EXIT or QUIT leaves.`;
}
