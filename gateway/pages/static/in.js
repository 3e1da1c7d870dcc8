// The receipt's "In" button: printing needs a script, everything else on the pages works without one.
document.addEventListener("DOMContentLoaded", function () {
  var button = document.getElementById("in");
  if (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  }
});
