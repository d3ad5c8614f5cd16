// The receipt page: its print button.
"use strict";
document.getElementById("print-receipt").addEventListener("click", () => window.print());
