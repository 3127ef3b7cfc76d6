// The TypeScript SDK's experimental tasks client through the gateway: list the tools, run one
// as a task (callToolStream polls tasks/get, then reads tasks/result), list and get the task.
// Usage: node ts_tasks.mjs URL KEY TOOL  -> one JSON line on stdout.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";

const [url, key, tool] = process.argv.slice(2);
const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${key}` } },
});
const client = new Client({ name: "ts-tasks", version: "1.0.0" }, { capabilities: {} });
await client.connect(transport);
const listed = (await client.listTools()).tools;
const execution = Object.fromEntries(listed.map((t) => [t.name, t.execution ?? null]));
const messages = [];
const stream = client.experimental.tasks.callToolStream(
  { name: tool, arguments: { topic: "ts" } },
  CallToolResultSchema,
  { task: { ttl: 60000 } },
);
for await (const message of stream) messages.push(message);
const created = messages.find((m) => m.type === "taskCreated");
const taskId = created?.task?.taskId ?? null;
const listedTasks = (await client.experimental.tasks.listTasks()).tasks.map((t) => t.taskId);
const got = taskId ? await client.experimental.tasks.getTask(taskId) : null;
console.log(
  JSON.stringify({
    serverTasks: client.getServerCapabilities()?.tasks ?? null,
    execution,
    types: messages.map((m) => m.type),
    taskId,
    result: messages.find((m) => m.type === "result")?.result ?? null,
    error: messages.find((m) => m.type === "error")?.error?.message ?? null,
    listedTasks,
    status: got?.status ?? null,
  }),
);
await transport.terminateSession();
await client.close();
