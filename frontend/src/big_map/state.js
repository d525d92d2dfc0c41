// The big map's constants, palettes and its page-wide state, window.__bigMap (also the test and benchmark hook).
import { push } from "../common/telemetry.js";

export const Q = 65535;
export const GB = 8; // grid: cell = q >> GB, 256 x 256 cells

export const GN = 1 << (16 - GB);
export const MAX_LOG = 300;

export const DOT_LIMIT = 40000; // fewer points than this in view: draw them as dots

// Levels of detail for the density raster: cells of 2^k quantized units, k in LOD_BITS (1024^2, 2048^2 and
// 4096^2 grids), each occupied cell holding its count and colour sums. A frame whose pixel is at least a cell
// adds cells instead of points (the point moves to its cell's centre: under half a pixel). A level with more
// than LOD_KEEP * n occupied cells saves nothing and is not kept.
export const LOD_BITS = [6, 5, 4];
export const LOD_KEEP = 0.6;

export const HOVER_PX = 10;
export const PANEL = 270;

export const G = (window.__bigMap ??= {
  datasets: new Map(), decoders: new Map(), sessions: new Map(), instances: {}, frames: [], hovers: [],
  selections: [], firstPaint: {}, received: [], seq: 0, ortVersion: null, hoverSent: [], serverImages: [],
});
G.lodBuilds ??= []; // {instance, k, ms, cells, idle} per level of detail built (a page loaded before they existed has none)

export const PALETTE = [
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189], [140, 86, 75], [227, 119, 194],
  [127, 127, 127], [188, 189, 34], [23, 190, 207], [57, 59, 121], [173, 73, 74], [99, 121, 57], [206, 109, 189],
  [140, 162, 82], [231, 186, 82], [82, 84, 163], [214, 97, 107], [107, 110, 207], [156, 158, 222],
];

// viridis, 9 stops, interpolated to 256
export const VIRIDIS = [[68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141], [39, 173, 129],
  [92, 200, 99], [170, 220, 50], [253, 231, 37]];

// append to a hook log, keeping its last MAX_LOG entries
export function log(list, item) {
  push(list, item, MAX_LOG);
}
