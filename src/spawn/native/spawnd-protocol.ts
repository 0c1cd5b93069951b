// The spawn helper's protocol constants: the one definition both sides use. The TypeScript side
// imports this module; the C side (native/*.c) includes spawnd-protocol.h, which
// protocolHeader() writes from this table each time the helper is compiled (native-build.ts),
// so a built helper and the tsinetd that built it cannot disagree. native/PROTOCOL.md describes
// the messages; its "Bumping the version" section says when VERSION changes.

/** The protocol version: the helper's `ready` message and its `--version` line carry it. */
export const VERSION = 5;

/**
 * The largest request, in bytes of its JSON text (the line Node writes, less the newline).
 * A spawn carries the program's whole environment and arguments: execve(2) takes at most
 * RLIMIT_STACK / 4 of them, 2 MiB under the usual 8 MiB stack, and JSON escaping lengthens
 * ordinary text little; 4 MiB holds that with room. The daemon refuses a larger request before
 * sending it (encodeSpawnRequest, and batches are cut to stay under it); the helper ignores a
 * longer line with a warning.
 */
export const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

/**
 * Room for Node's envelope around a request that carries a descriptor
 * (`{"cmd":"NODE_HANDLE","type":"net.Native","msg":REQUEST}`, under 80 bytes): the helper
 * allows a NODE_HANDLE line this much beyond MAX_REQUEST_BYTES.
 */
export const HANDLE_ENVELOPE_BYTES = 256;

/** The largest banner ("pre") a spawn may carry, in bytes (before hex encoding). */
export const MAX_PRE_BYTES = 64 * 1024;

/** The largest answer a `reply` request may carry, in bytes (before hex encoding). */
export const MAX_REPLY_BYTES = 512;

/** The most supplementary groups a spawn may name. */
export const MAX_GROUPS = 65536;

/** The largest request id, listener id and connection id (Number.MAX_SAFE_INTEGER). */
export const MAX_ID = Number.MAX_SAFE_INTEGER;

/** Steps of a child's start that can fail in the child itself, in the order of their codes (1..). */
export const CHILD_STAGES = ['dup2', 'setgroups', 'setgid', 'setuid', 'exec'] as const;

/** Every `stage` an error reply may name: the child's steps, then the helper's own. */
export const STAGES = [...CHILD_STAGES, 'fork', 'pipe', 'recv', 'request', 'peek', 'unknown'] as const;
export type Stage = (typeof STAGES)[number];

/** The requests (`cmd`) the helper reads. */
export const REQUESTS = [
  'spawn',
  'kill',
  'ping',
  'listen',
  'unlisten',
  'pause',
  'resume',
  'reply',
  'drop',
  'batch',
  'peek',
  'ubind',
  'watch',
  'drain',
] as const;
export type RequestName = (typeof REQUESTS)[number];

/** The replies (`t`) the helper writes. */
export const REPLIES = ['ready', 'spawned', 'error', 'exit', 'pong', 'warn', 'conn', 'accept-error', 'sender', 'bound', 'readable', 'drained'] as const;
export type ReplyName = (typeof REPLIES)[number];

/** How the helper starts children, as its `ready` message says (`children`, protocol 3). */
export const CHILD_STARTS = ['clone', 'fork'] as const;
export type ChildStart = (typeof CHILD_STARTS)[number];

/** The file name the generated header is included by. */
export const HEADER_NAME = 'spawnd-protocol.h';

function macroName(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/** The C header for the table above (pure: the same table gives the same text). */
export function protocolHeader(): string {
  const lines = [
    '/* spawnd-protocol.h - generated from src/spawn/native/spawnd-protocol.ts when the helper is compiled',
    ' * (native-build.ts protocolHeader()); do not edit, do not commit. See native/PROTOCOL.md. */',
    '#ifndef SPAWND_PROTOCOL_H_INCLUDED',
    '#define SPAWND_PROTOCOL_H_INCLUDED',
    '',
    `#define SPAWND_PROTOCOL_VERSION ${VERSION}`,
    `#define SPAWND_MAX_REQUEST ${MAX_REQUEST_BYTES}`,
    `#define SPAWND_HANDLE_ENVELOPE ${HANDLE_ENVELOPE_BYTES}`,
    `#define SPAWND_MAX_PRE ${MAX_PRE_BYTES}`,
    `#define SPAWND_MAX_REPLY ${MAX_REPLY_BYTES}`,
    `#define SPAWND_MAX_GROUPS ${MAX_GROUPS}`,
    `#define SPAWND_MAX_ID ${MAX_ID}LL`,
    '',
    '/* Requests ("cmd"). */',
    ...REQUESTS.map((r) => `#define CMD_${macroName(r)} ${JSON.stringify(r)}`),
    '',
    '/* Replies ("t"). */',
    ...REPLIES.map((r) => `#define REPLY_${macroName(r)} ${JSON.stringify(r)}`),
    '',
    '/* How children start ("children" of the ready reply). */',
    ...CHILD_STARTS.map((c) => `#define CHILDREN_${macroName(c)} ${JSON.stringify(c)}`),
    '',
    '/* Error stages ("stage"). */',
    ...STAGES.map((s) => `#define STAGE_NAME_${macroName(s)} ${JSON.stringify(s)}`),
    '',
    "/* Steps of a child's start that fail in the child (its report's code; 0: none failed). */",
    `enum child_stage { STAGE_NONE = 0, ${CHILD_STAGES.map((s, i) => `STAGE_${macroName(s)} = ${i + 1}`).join(', ')} };`,
    '',
    '#endif',
    '',
  ];
  return lines.join('\n');
}
