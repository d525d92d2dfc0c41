// The live-latent component as a notebook widget (explorer.notebook.LatentWalk): the same component code
// (index.js setup) on the anywidget host. build.mjs bundles this into one self-contained ESM, common/ inlined.
import { anywidgetModule } from "../hosts/anywidget.js";
import { setup } from "./index.js";

export default anywidgetModule(setup);
