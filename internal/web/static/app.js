// Reloads pages that show something running, every data-refresh seconds,
// unless the user is typing in a form.
(function () {
  var secs = parseInt(document.body.getAttribute("data-refresh") || "0", 10);
  if (!secs) return;
  setInterval(function () {
    var el = document.activeElement;
    if (el && (el.tagName === "INPUT" || el.tagName === "SELECT" || el.tagName === "TEXTAREA")) return;
    window.location.reload();
  }, secs * 1000);
})();
