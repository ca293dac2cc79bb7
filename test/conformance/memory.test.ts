import { MemoryAlertStore } from "../../src/stores/alerts/memory.js";
import { MemoryAuditStore } from "../../src/stores/audit/memory.js";
import { MemoryIncidentStore } from "../../src/stores/incidents/memory.js";
import { runAlertStoreConformance } from "./alertStore.js";
import { runAuditStoreConformance } from "./auditStore.js";
import { backlogBackends, runBacklogStoreConformance } from "./backlogStore.js";
import { jobLedgerBackends, runJobLedgerConformance } from "./jobLedger.js";
import { runIncidentStoreConformance } from "./incidentStore.js";
import { riskHistoryBackends, runRiskHistoryStoreConformance } from "./riskHistoryStore.js";
import { runWindowReadConformance } from "./windowReads.js";

function memory<S extends { init(): Promise<void>; close(): Promise<void> }>(make: () => S) {
  return async () => {
    const store = make();
    await store.init();
    return { store, cleanup: () => store.close() };
  };
}

runAlertStoreConformance("memory", memory(() => new MemoryAlertStore()));
runAuditStoreConformance("memory", memory(() => new MemoryAuditStore()));
runIncidentStoreConformance("memory", memory(() => new MemoryIncidentStore()));
runBacklogStoreConformance("memory", backlogBackends.memory());
runJobLedgerConformance("memory", jobLedgerBackends.memory());
runRiskHistoryStoreConformance("memory", riskHistoryBackends.memory());
runWindowReadConformance("memory", memory(() => new MemoryIncidentStore()), memory(() => new MemoryAlertStore()));
