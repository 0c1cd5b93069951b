// The container's HEALTHCHECK: asks the health monitor that tsinetd serves (127.0.0.1, port
// $HEALTH_MONITOR_PORT, default 7101) and exits 0 when it says {"status": "OK"}, else 1 with
// the monitor's message (docker inspect shows it).
import { connect } from 'node:net';

const port = Number(process.env.HEALTH_MONITOR_PORT ?? 7101);
let text = '';
const fail = (why) => {
  process.stdout.write(`unhealthy: ${why}\n`);
  process.exit(1);
};
const socket = connect(port, '127.0.0.1');
socket.setTimeout(4000, () => fail('no answer from the health monitor within 4 s'));
socket.on('error', (err) => fail(`health monitor on port ${port}: ${err.message}`));
socket.on('data', (d) => {
  text += d;
});
socket.on('end', () => {
  let status;
  try {
    status = JSON.parse(text);
  } catch {
    fail(`not JSON: ${JSON.stringify(text)}`);
  }
  if (status.status === 'OK') {
    process.stdout.write('healthy\n');
    process.exit(0);
  }
  fail(status.message ?? JSON.stringify(status));
});
