// Sign-up: tells the server the browser's time zone (an IANA name such as
// "Europe/Berlin"), through each hidden field marked data-browser-timezone. Without
// this script the field stays empty and the account starts on UTC.
"use strict";

const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
if (zone) {
  for (const field of document.querySelectorAll("input[data-browser-timezone]")) {
    field.value = zone;
  }
}
