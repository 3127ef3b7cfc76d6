"""HTTP upstreams (`kind: http`) and OpenAPI import (`kind: openapi`), which prepares into one."""
