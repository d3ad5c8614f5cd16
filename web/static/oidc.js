// After single sign-on the browser arrives from the provider's site. It has
// stored the session cookie (SameSite=Strict) but sends it only on a
// navigation this site starts: this page starts it, replacing itself in the
// history (Back does not return to the spent callback).
"use strict";
(function () {
  var next = document.getElementById("continue");
  if (next) {
    window.location.replace(next.getAttribute("href"));
  }
})();
