// Software "on the instance": read the instance's RAM role credentials through the official
// @alicloud/credentials provider (its request host pointed at an ecsram metadata listener, since
// the library hard-codes 100.100.100.200), then call ECS with them through the Tea client.
// stdin: {"metadataHost": "127.0.0.1:PORT", "endpoint": "127.0.0.1:PORT", "calls": [{"action", "params"}]}
// stdout: {"credentials": {"accessKeyId", "type"}, "results": [{"ok", "code", "statusCode", "body"}]}
'use strict';

const Credential = require('@alicloud/credentials').default;
const Ecs = require('@alicloud/ecs20140526');
const { Config } = require('@alicloud/openapi-core').$OpenApiUtil;

function readStdin() {
  return new Promise((resolve) => {
    let text = '';
    process.stdin.on('data', (chunk) => { text += chunk; });
    process.stdin.on('end', () => resolve(JSON.parse(text)));
  });
}

const lowerFirst = (name) => name.charAt(0).toLowerCase() + name.slice(1);

(async () => {
  const req = await readStdin();
  const credential = new Credential({ type: 'ecs_ram_role' });
  const provider = credential.credential.provider;
  const send = provider.doRequest;
  provider.doRequest = (request) => { request.host = req.metadataHost; return send(request); };

  const fetched = await credential.getCredential();
  const ecs = new Ecs.default(new Config({ credential, endpoint: req.endpoint, protocol: 'http', regionId: 'cn-hangzhou' }));
  const results = [];
  for (const call of req.calls) {
    const model = {};
    for (const [key, value] of Object.entries(call.params || {})) model[lowerFirst(key)] = value;
    try {
      const response = await ecs[lowerFirst(call.action)](new Ecs[`${call.action}Request`](model));
      results.push({ ok: true, body: response.body.toMap() });
    } catch (err) {
      results.push({ ok: false, code: err.code, statusCode: err.statusCode });
    }
  }
  process.stdout.write(JSON.stringify({
    credentials: { accessKeyId: fetched.accessKeyId, type: fetched.type },
    results,
  }));
})().catch((err) => { process.stderr.write(String(err && err.stack || err)); process.exit(1); });
