// Progressive: without JavaScript (or without service workers) the site works as before, only
// without the saved hotlines for when the network fails.
if ("serviceWorker" in navigator) {
  window.addEventListener("load", function () {
    navigator.serviceWorker.register("/sw.js").catch(function () {});
  });
}
