// The student decoder's Web Worker (tier b; common/decode_worker.js): one code at a time, in the page's decoder
// contract (vae-distill exports its student so): the flat code (1, C*H*W) in the code space the page shows in, an
// image (1, 3, H', W') in [0, 1] out; answered as uint8 RGB planes.

import { serveDecodes } from "../common/decode_worker.js";
import { decode } from "../common/ort.js";
import { rgbPlanes } from "../common/paint.js";

serveDecodes(async (ort, session, { code, dims, tEvent }) => ({ tEvent, ...rgbPlanes(await decode(ort, session, code, dims)) }));
