// Small charts: a line sparkline and stacked bars on <canvas>, a ring in inline SVG. Colours come from
// the theme's CSS variables, so a theme switch only needs a redraw.

/** The canvas sized for the device's pixel ratio; returns its 2D context and CSS size. */
function prepare(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  return { ctx, width, height };
}

function baseline(ctx, width, height, color) {
  ctx.strokeStyle = color;
  ctx.lineWidth = 1;
  ctx.setLineDash([2, 3]);
  ctx.beginPath();
  ctx.moveTo(0, height - 0.5);
  ctx.lineTo(width, height - 0.5);
  ctx.stroke();
  ctx.setLineDash([]);
}

/** A smoothed line with a soft gradient under it; `null` values are gaps carried at the previous level. */
export function sparkline(canvas, values, { color, grid }) {
  const { ctx, width, height } = prepare(canvas);
  baseline(ctx, width, height, grid);
  const known = values.filter((v) => v !== null);
  if (known.length === 0) return;
  const max = Math.max(...known) || 1;
  const pad = 3;
  const step = values.length > 1 ? width / (values.length - 1) : width;
  let last = 0;
  const points = values.map((v, i) => {
    last = v === null ? last : v;
    return [i * step, height - pad - (last / max) * (height - pad * 2)];
  });
  const path = new Path2D();
  points.forEach(([x, y], i) => {
    if (i === 0) path.moveTo(x, y);
    else {
      const [px, py] = points[i - 1];
      const mx = (px + x) / 2;
      path.bezierCurveTo(mx, py, mx, y, x, y);
    }
  });
  const area = new Path2D(path);
  area.lineTo(points[points.length - 1][0], height);
  area.lineTo(points[0][0], height);
  area.closePath();
  const gradient = ctx.createLinearGradient(0, 0, 0, height);
  gradient.addColorStop(0, `${color}55`);
  gradient.addColorStop(1, `${color}00`);
  ctx.fillStyle = gradient;
  ctx.fill(area);
  ctx.strokeStyle = color;
  ctx.lineWidth = 1.75;
  ctx.lineJoin = "round";
  ctx.stroke(path);
  const [x, y] = points[points.length - 1];
  ctx.fillStyle = color;
  ctx.beginPath();
  ctx.arc(Math.min(x, width - 2.5), y, 2.5, 0, Math.PI * 2);
  ctx.fill();
}

/** Stacked columns: each bucket is `{ok, failed}`; rounded tops, failures drawn above successes. */
export function stackedBars(canvas, buckets, { ok, failed, grid }) {
  const { ctx, width, height } = prepare(canvas);
  baseline(ctx, width, height, grid);
  const max = Math.max(1, ...buckets.map((b) => b.ok + b.failed));
  const slot = width / buckets.length;
  const barWidth = Math.max(2, slot * 0.62);
  buckets.forEach((bucket, i) => {
    const x = i * slot + (slot - barWidth) / 2;
    const okHeight = (bucket.ok / max) * (height - 2);
    const failedHeight = (bucket.failed / max) * (height - 2);
    const radius = Math.min(2, barWidth / 2);
    if (okHeight > 0) {
      ctx.fillStyle = ok;
      ctx.beginPath();
      ctx.roundRect(x, height - okHeight, barWidth, okHeight, failedHeight > 0 ? 0 : [radius, radius, 0, 0]);
      ctx.fill();
    }
    if (failedHeight > 0) {
      ctx.fillStyle = failed;
      ctx.beginPath();
      ctx.roundRect(x, height - okHeight - failedHeight, barWidth, failedHeight, [radius, radius, 0, 0]);
      ctx.fill();
    }
  });
}

/** A progress ring (0..1) drawn into an <svg viewBox="0 0 64 64">; `null` draws the empty track. */
export function ring(svg, ratio, { color, track }) {
  const r = 26;
  const circumference = 2 * Math.PI * r;
  const filled = ratio === null ? 0 : Math.max(0, Math.min(1, ratio)) * circumference;
  svg.innerHTML =
    `<circle cx="32" cy="32" r="${r}" fill="none" stroke="${track}" stroke-width="7"/>` +
    `<circle cx="32" cy="32" r="${r}" fill="none" stroke="${color}" stroke-width="7" ` +
    `stroke-linecap="round" ` +
    `stroke-dasharray="${filled} ${circumference}" transform="rotate(-90 32 32)"/>`;
}
