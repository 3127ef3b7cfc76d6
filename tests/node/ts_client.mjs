// The TypeScript SDK as an assistant uses it: list the tools, call one with progress.
// Usage: node ts_client.mjs URL KEY TOOL  -> one JSON line on stdout.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, key, tool] = process.argv.slice(2);
const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${key}` } },
});
const client = new Client({ name: "ts-e2e", version: "1.0.0" });
await client.connect(transport);
const tools = (await client.listTools()).tools.map((t) => t.name);
const progress = [];
const result = await client.callTool({ name: tool, arguments: {} }, undefined, {
  onprogress: (p) => progress.push(p.progress),
});
console.log(JSON.stringify({ sessionId: transport.sessionId ?? null, tools, progress, result }));
await transport.terminateSession();
await client.close();
