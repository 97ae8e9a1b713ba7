// Interactive graph view: vis-network over window.KB_GRAPH; curated edges solid, inferred dashed.
(function () {
  "use strict";
  var box = document.getElementById("graph");
  var data = window.KB_GRAPH;
  if (!box || !data || !window.vis) { return; }
  var colors = { failure_mode: "#e5534b", mitigation: "#3fa35b", paper: "#7c6cd9", source: "#8a93a6", reproduction: "#2f7fd1" };
  var nodes = data.nodes.map(function (n) {
    return { id: n.id, label: n.label, group: n.group, url: n.url, shape: n.group === "failure_mode" ? "box" : "dot",
             size: n.group === "source" ? 7 : 12, color: colors[n.group] || "#999",
             font: { color: n.group === "failure_mode" ? "#ffffff" : "#1d2330", size: n.group === "source" ? 10 : 14 } };
  });
  var edges = data.edges.map(function (e, i) {
    return { id: i, from: e.from, to: e.to, arrows: "to", dashes: !e.curated,
             color: { color: e.curated ? "#1f7a3d" : "#c9a27a", opacity: 0.8 }, width: e.curated ? 2 : 1 };
  });
  var network = new window.vis.Network(box, { nodes: new window.vis.DataSet(nodes), edges: new window.vis.DataSet(edges) }, {
    physics: { solver: "forceAtlas2Based", stabilization: { iterations: 150 } },
    interaction: { hover: true }, edges: { smooth: false }
  });
  network.once("stabilizationIterationsDone", function () { network.setOptions({ physics: false }); });
  network.on("click", function (params) {
    if (params.nodes.length) {
      var n = nodes.find(function (x) { return x.id === params.nodes[0]; });
      if (n) { window.location.href = n.url; }
    }
  });
  window.kbNetwork = network;
})();
