// A DenyHosts-style hosts.deny for the soak and the bench: `lines` rules `ALL: 10.a.b.c`, none of
// which matches a client on 127.0.0.0/8, so every connection is checked against all of them.
export function blockList(lines) {
  const out = ['# DenyHosts-style block-list'];
  for (let i = 0; i < lines; i++) out.push(`ALL: 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  return out.join('\n') + '\n';
}
