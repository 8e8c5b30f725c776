// One API call through an official Node SDK, driven by the Python tests.
// stdin: {"client": "pop" | "tea-ecs", "endpoint", "accessKeyId", "accessKeySecret", "securityToken"?,
//         "action", "params", "method"?, "version"?, "regionId"?, "protocol"? ("http" | "https", default http)}
// For https, the server's CA is trusted the Node way: NODE_EXTRA_CA_CERTS in the environment.
// stdout: {"ok": true, "status", "body"} or {"ok": false, "name", "code", "message", "statusCode", "data"}
'use strict';

const RPCClient = require('@alicloud/pop-core');
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

async function viaPop(req) {
  const client = new RPCClient({
    accessKeyId: req.accessKeyId,
    accessKeySecret: req.accessKeySecret,
    securityToken: req.securityToken,
    endpoint: `${req.protocol || 'http'}://${req.endpoint}`,
    apiVersion: req.version || '2014-05-26',
  });
  const body = await client.request(req.action, req.params || {}, { method: req.method || 'GET', timeout: 30000 });
  return { ok: true, body };
}

async function viaTeaEcs(req) {
  const client = new Ecs.default(new Config({
    accessKeyId: req.accessKeyId,
    accessKeySecret: req.accessKeySecret,
    securityToken: req.securityToken,
    endpoint: req.endpoint,
    protocol: req.protocol || 'http',
    regionId: req.regionId || 'cn-hangzhou',
  }));
  const model = {};
  for (const [key, value] of Object.entries(req.params || {})) model[lowerFirst(key)] = value;
  const request = new Ecs[`${req.action}Request`](model);
  const response = await client[lowerFirst(req.action)](request);
  return { ok: true, status: response.statusCode, body: response.body.toMap() };
}

(async () => {
  const req = await readStdin();
  let report;
  try {
    report = req.client === 'pop' ? await viaPop(req) : await viaTeaEcs(req);
  } catch (err) {
    report = {
      ok: false,
      name: err.name,
      code: err.code,
      message: err.message,
      statusCode: err.statusCode,
      data: err.data,
      accessDeniedDetail: err.accessDeniedDetail,
    };
  }
  process.stdout.write(JSON.stringify(report));
})();
