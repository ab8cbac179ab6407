import assert from "node:assert/strict";
import { securityLine } from "./display_table.ts";
import type { ClusterMeta } from "../state/meta.ts";

const meta = (tls: boolean, action?: "enable" | "disable") =>
  ({
    topology: { global: { security: { auth: true, tls } } },
    ...(action
      ? {
        tls_switch: { action, plan_id: "plan-1", state_id: "apply-1", started_at: "2026-12-05" },
      }
      : {}),
  }) as unknown as ClusterMeta;

Deno.test("securityLine: TLS as recorded, and between modes while a switch is under way, not 'required' (tester52)", () => {
  assert.match(securityLine(meta(true)), /^Security: access control on, TLS required \(/);
  assert.equal(securityLine(meta(false)), "Security: access control on, TLS off");
  assert.equal(
    securityLine(meta(true, "disable")),
    "Security: access control on, TLS switching off (TLS disable under way: members may " +
      "accept plain and TLS connections until it finishes)",
  );
  assert.match(securityLine(meta(false, "enable")), /TLS switching on \(TLS enable under way/);
});
