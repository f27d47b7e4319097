"use strict";
// The full text of every cut-off cell of an admin list, shown on hover (see admin.css).
document.addEventListener("DOMContentLoaded", () => {
  for (const cell of document.querySelectorAll("#result_list td, #result_list th")) {
    if (cell.scrollWidth > cell.clientWidth && !cell.title) {
      cell.title = cell.textContent.trim();
    }
  }
});
