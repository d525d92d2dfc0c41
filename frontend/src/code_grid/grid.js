// The code grid over the image: cell arithmetic and the overlay's drawing (no state, no DOM beyond a 2-D context).
//
// A level's cell (i, j) covers the image's stride x stride footprint at (i * stride, j * stride), as
// explorer.models.base.CodeLevel says; on a canvas `scale` display pixels per image pixel it is
// stride * scale pixels a side. A coarser level's grid may overhang the image (a 4 x 4 top level of stride 8 on
// 28 px): its last cells are clipped, and a click there still picks them.

/** The (row, col) of the cell of `level` ({grid: [h, w], stride}) under display point (x, y), or null outside. */
export function cellAt(level, scale, x, y) {
  const side = level.stride * scale;
  const [h, w] = level.grid;
  const row = Math.floor(y / side);
  const col = Math.floor(x / side);
  if (row < 0 || col < 0 || row >= h || col >= w) return null;
  return [row, col];
}

/** Where level `active`'s cells start in the flat index vector (levels in order, each h * w row-major). */
export function levelOffset(levels, active) {
  let start = 0;
  for (let l = 0; l < active; l++) start += levels[l].grid[0] * levels[l].grid[1];
  return start;
}

/**
 * Draw level `level`'s grid with each cell's code (`codes`, h * w row-major) into `ctx` (a canvas of the display
 * size), the cells in `changed` (a Set of flat cell numbers) tinted and the `mark`ed cell outlined.
 */
export function drawGrid(ctx, level, scale, codes, changed, mark) {
  const side = level.stride * scale;
  const [h, w] = level.grid;
  ctx.clearRect(0, 0, ctx.canvas.width, ctx.canvas.height);
  ctx.fillStyle = "rgba(255, 120, 0, 0.25)";
  for (const cell of changed) ctx.fillRect((cell % w) * side, Math.floor(cell / w) * side, side, side);
  ctx.strokeStyle = "rgba(80, 160, 255, 0.9)";
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (let i = 0; i <= h; i++) { ctx.moveTo(0, i * side + 0.5); ctx.lineTo(w * side, i * side + 0.5); }
  for (let j = 0; j <= w; j++) { ctx.moveTo(j * side + 0.5, 0); ctx.lineTo(j * side + 0.5, h * side); }
  ctx.stroke();
  const size = Math.max(8, Math.min(14, Math.floor(side / 3)));
  ctx.font = `${size}px sans-serif`;
  ctx.textBaseline = "top";
  ctx.lineWidth = 3;
  ctx.strokeStyle = "black";
  ctx.fillStyle = "#ffeb3b";
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const text = String(codes[i * w + j]);
      ctx.strokeText(text, j * side + 2, i * side + 2);
      ctx.fillText(text, j * side + 2, i * side + 2);
    }
  }
  if (mark) {
    ctx.strokeStyle = "rgb(230, 40, 40)";
    ctx.lineWidth = 3;
    ctx.strokeRect(mark[1] * side + 1.5, mark[0] * side + 1.5, side - 3, side - 3);
  }
}
