// The monitoring page's live figures: every few seconds, fetch the same figures as JSON (same origin, the session
// cookie) and copy in what the server already wrote in Vietnamese. Nothing is formatted here, and text is set as
// text (never as HTML). Without this script the page still shows current figures and reloads itself.
(function () {
  "use strict";
  var root = document.getElementById("giam-sat");
  if (!root || !window.fetch) {
    return;
  }
  var url = root.getAttribute("data-du-lieu");
  var seconds = Number(root.getAttribute("data-chu-ky")) || 5;
  var state = document.getElementById("trang-thai-cap-nhat");
  var live = "· tự động cập nhật mỗi " + seconds + " giây";

  function fill(body, rows) {
    var heads = body.parentNode.querySelectorAll("thead th");
    var fresh = document.createDocumentFragment();
    rows.forEach(function (row) {
      var line = document.createElement("tr");
      if (row["class"]) {
        line.className = row["class"];
      }
      row.cells.forEach(function (text, index) {
        var cell = document.createElement("td");
        if (heads[index] && heads[index].className) {
          cell.className = heads[index].className; // a column's cells share its heading's class
        }
        cell.textContent = text;
        line.appendChild(cell);
      });
      fresh.appendChild(line);
    });
    if (rows.length === 0) {
      var empty = document.createElement("tr");
      var cell = document.createElement("td");
      empty.className = "trong";
      cell.colSpan = heads.length;
      cell.textContent = body.getAttribute("data-trong");
      empty.appendChild(cell);
      fresh.appendChild(empty);
    }
    body.replaceChildren(fresh);
  }

  function show(display) {
    document.querySelectorAll("[data-so]").forEach(function (element) {
      var text = display.figures[element.getAttribute("data-so")];
      if (typeof text === "string") {
        element.textContent = text;
      }
    });
    document.querySelectorAll("tbody[data-bang]").forEach(function (body) {
      var rows = display.tables[body.getAttribute("data-bang")];
      if (Array.isArray(rows)) {
        fill(body, rows);
      }
    });
  }

  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (answer) {
        if (answer.status === 401 || answer.status === 403) {
          window.location.assign("/giam-sat/dang-nhap"); // the session ended (expired, key revoked)
          return null;
        }
        if (!answer.ok) {
          throw new Error("HTTP " + answer.status);
        }
        return answer.json();
      })
      .then(function (figures) {
        if (figures) {
          show(figures.display);
          state.textContent = live;
          root.classList.remove("mat-ket-noi");
        }
      })
      .catch(function () {
        state.textContent = "· chưa cập nhật được, đang thử lại…";
        root.classList.add("mat-ket-noi");
      })
      .finally(function () {
        window.setTimeout(poll, seconds * 1000);
      });
  }

  state.textContent = live;
  window.setTimeout(poll, seconds * 1000);
})();
