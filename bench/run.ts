import { benchAudit } from './audit.ts';
import { benchExpiry } from './expiry.ts';
import { benchGcp } from './gcp.ts';
import { benchGrants } from './grants.ts';
import { benchSandboxStart } from './sandbox-start.ts';
import { benchSoak } from './soak.ts';
import { benchPortal } from './portal.ts';
import { benchScale } from './scale.ts';

const benches: Record<string, () => Promise<void>> = {
  'sandbox-start': () => benchSandboxStart(),
  grants: () => benchGrants(),
  gcp: () => benchGcp(),
  expiry: () => benchExpiry(),
  soak: () => benchSoak(),
  portal: () => benchPortal(),
  scale: () => benchScale(),
  audit: () => benchAudit(),
};

const only = process.argv.slice(2);
for (const [name, run] of Object.entries(benches)) {
  if (only.length > 0 && !only.includes(name)) continue;
  await run();
}
