import { KvmSession } from "../runner/layers/kvm_layer.ts";
import { Platform } from "../impl/module/testing/fixture.ts";
for (let i = 0; i < 3; i++) { const t0 = performance.now(); new KvmSession(); console.log("session ms", performance.now() - t0); }
for (let i = 0; i < 2; i++) { const t0 = performance.now(); const p = new Platform(); p.readyPlatform(); console.log("ready ms", performance.now() - t0); }
