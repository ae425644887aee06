// The campaign form's map (Leaflet, from npm, served by crieurd): the directory's citizens as
// points, and an area drawn as a polygon (a click per corner, then "Finish") or a circle (the
// centre, then a point of the edge). What is drawn is written into the form's fields (the area
// as GeoJSON, or the circle's centre and radius), which a keyboard user fills by hand, and which
// the server checks: the map only helps. Without a tile server, the points and the area are
// drawn on a plain background, so that it works on a network without internet access.
(function () {
  "use strict";
  var box = document.getElementById("map");
  if (!box || !window.L) return;
  var area = document.getElementById("f-area");
  var lat = document.getElementById("f-circle_lat"), lon = document.getElementById("f-circle_lon"),
      radius = document.getElementById("f-circle_radius");
  var buttons = {};
  document.querySelectorAll("[data-draw]").forEach(function (b) { buttons[b.getAttribute("data-draw")] = b; });

  var map = L.map(box, { zoomSnap: 0.25, doubleClickZoom: false, keyboard: true });
  var tiles = box.getAttribute("data-tiles");
  if (tiles) L.tileLayer(tiles, { maxZoom: 19, attribution: box.getAttribute("data-attribution") || "" }).addTo(map);
  map.setView([46.6, 2.4], 5); // until the points say where the town is
  window.crieurMap = map;      // for the browser tests, which draw as an agent would

  var points = L.layerGroup().addTo(map);
  fetch(box.getAttribute("data-points"), { credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : { points: [] }; })
    .then(function (d) {
      var bounds = [];
      d.points.forEach(function (p) {
        L.circleMarker(p, { radius: 2, weight: 0, fillOpacity: 0.6, fillColor: "#14517a", interactive: false }).addTo(points);
        bounds.push(p);
      });
      if (bounds.length) map.fitBounds(bounds, { padding: [10, 10] });
      box.setAttribute("data-ready", String(bounds.length));
      showFromFields();
    })
    .catch(function () { box.setAttribute("data-ready", "0"); });

  var mode = null, corners = [], shape = null, centre = null;
  function press(name) {
    Object.keys(buttons).forEach(function (k) {
      if (k === "polygon" || k === "circle") buttons[k].setAttribute("aria-pressed", String(k === name));
    });
    buttons.finish.disabled = name !== "polygon";
  }
  function clearShape() { if (shape) { map.removeLayer(shape); shape = null; } }
  function start(name) { mode = name; corners = []; centre = null; clearShape(); press(name); }
  function stop() { mode = null; press(null); }

  function ring() {
    var r = corners.map(function (c) { return [round(c.lng), round(c.lat)]; });
    r.push(r[0]);
    return r;
  }
  function round(x) { return Math.round(x * 1e6) / 1e6; }

  map.on("click", function (e) {
    if (mode === "polygon") {
      corners.push(e.latlng);
      clearShape();
      shape = corners.length > 2 ? L.polygon(corners, { color: "#a11d1d" }) : L.polyline(corners, { color: "#a11d1d" });
      shape.addTo(map);
    } else if (mode === "circle") {
      if (!centre) {
        centre = e.latlng;
        clearShape();
        shape = L.circleMarker(centre, { radius: 4, color: "#a11d1d" }).addTo(map);
        return;
      }
      var r = Math.round(map.distance(centre, e.latlng));
      clearShape();
      shape = L.circle(centre, { radius: r, color: "#a11d1d" }).addTo(map);
      area.value = "";
      lat.value = round(centre.lat); lon.value = round(centre.lng); radius.value = r;
      stop();
    }
  });

  buttons.polygon.addEventListener("click", function () { start("polygon"); });
  buttons.circle.addEventListener("click", function () { start("circle"); });
  buttons.finish.addEventListener("click", function () {
    if (corners.length < 3) return;
    area.value = JSON.stringify({ type: "Polygon", coordinates: [ring()] });
    lat.value = lon.value = radius.value = "";
    stop();
  });
  buttons.clear.addEventListener("click", function () {
    clearShape(); corners = []; centre = null; stop();
    area.value = lat.value = lon.value = radius.value = "";
  });

  // What the fields hold (typed, or the form coming back with an error) shown on the map.
  function showFromFields() {
    try {
      if (area.value) {
        clearShape();
        shape = L.geoJSON(JSON.parse(area.value), { style: { color: "#a11d1d" } }).addTo(map);
      } else if (lat.value && lon.value && radius.value) {
        clearShape();
        shape = L.circle([+lat.value, +lon.value], { radius: +radius.value, color: "#a11d1d" }).addTo(map);
      }
    } catch (e) { /* not GeoJSON yet: the server will say so */ }
  }
  [area, lat, lon, radius].forEach(function (f) { f.addEventListener("change", showFromFields); });
  press(null);
})();
