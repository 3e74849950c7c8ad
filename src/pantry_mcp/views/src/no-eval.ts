// Imported first by main.ts, so it runs before any other module of the bundle.
//
// Views run under a CSP without 'unsafe-eval'. Zod (under the MCP SDK) probes for eval
// with `new Function("")` the first time it builds an object schema unless its config
// says `jitless`, and the SDK builds its schemas as its modules load: before `new App()`
// gets to set `jitless` itself. The probe is caught, but the browser still reports a CSP
// violation. Setting `jitless` here, ahead of every schema, means no probe at all.

import { config } from "zod/v4/core";

config({ jitless: true });
