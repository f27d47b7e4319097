// DORA dashboard: submit on change, show the custom dates, sort the services table.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("dora-filters");
  if (form) {
    const range = document.getElementById("dora-range");
    const custom = form.querySelector(".dora-custom");
    form.addEventListener("change", (event) => {
      if (event.target === range) {
        custom.hidden = range.value !== "custom";
        if (range.value === "custom") return; // wait for the dates
      }
      if (event.target.type === "date") return; // "Show" submits the custom dates
      form.requestSubmit();
    });
  }
  const table = document.getElementById("dora-services");
  if (!table) return;
  const headers = Array.from(table.tHead.rows[0].cells);
  headers.forEach((th, column) => {
    th.addEventListener("click", () => {
      const ascending = th.getAttribute("aria-sort") !== "ascending";
      headers.forEach((other) => other.setAttribute("aria-sort", "none"));
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const numeric = th.dataset.sort === "number";
      const body = table.tBodies[0];
      const rows = Array.from(body.rows).filter((row) => row.cells.length > 1);
      const key = (row) => row.cells[column].dataset.value || "";
      rows.sort((a, b) => {
        const [x, y] = [key(a), key(b)];
        if (numeric) {
          // Rows without a value go last either way.
          if (x === "" || y === "") return (x === "") - (y === "");
          return ascending ? Number(x) - Number(y) : Number(y) - Number(x);
        }
        return ascending ? x.localeCompare(y) : y.localeCompare(x);
      });
      rows.forEach((row) => body.appendChild(row));
    });
  });
});
