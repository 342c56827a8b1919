import { dispatcherRows, tdStatusTests, type TdWorld } from "../testing/td_status_table.ts";

const LEAF = "TDH.MNG.KEY.RECLAIMID";
const call = (w: TdWorld) => ({ inputs: { tdr_pa: w.td.tdr } });

tdStatusTests(LEAF, [
  { status: "TDX_SUCCESS", why: "any input, nothing done", setup: call },
  {
    status: "TDX_SUCCESS",
    why: "the input is not even checked",
    setup: () => ({ inputs: { tdr_pa: 0x123n } }),
  },
  ...dispatcherRows(LEAF, call),
]);
