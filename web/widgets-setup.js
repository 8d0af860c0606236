// Runs before the Jupyter widget manager on pages with widgets (_config.yml, nb_ipywidgets_js).
(function () {
  // The manager's fonts and chunks are served by the book (_static/vendor/html-manager/dist/), not a CDN:
  // it finds them next to the URL that RequireJS gives its module, so map the module there. A plain
  // object named require, defined before require.js loads, is RequireJS's configuration.
  var module = new URL("html-manager", document.currentScript.src).href;
  window.__jupyter_widgets_assets_path__ = module + "/dist/";
  window.require = { paths: { "@jupyter-widgets/html-manager": module } };
  // The manager typesets widget labels with MathJax 2's MathJax.Hub.Queue; the book loads MathJax 3,
  // whose global object exists once the deferred scripts have run.
  document.addEventListener("DOMContentLoaded", function () {
    var mathjax = window.MathJax;
    if (!mathjax || mathjax.Hub) return;
    mathjax.Hub = {
      Queue: function (command) {
        var element = Array.isArray(command) ? command[2] : undefined;
        if (!mathjax.startup || !mathjax.typesetPromise) return;
        mathjax.startup.promise.then(function () {
          return mathjax.typesetPromise(element ? [element] : undefined);
        });
      },
    };
  });
})();
