import { SiteId } from "../../../contracts/ids.ts";
import { h } from "./dom.ts";
import { Rest } from "./rest.ts";
import { Wall } from "./wall.ts";

/**
 * The wall page's entry (bundled by dashboards/wall/build.ts into /wall/assets/wall.js). The
 * server put the site in <body data-site>; the page's own path says it too.
 */
function siteOfPage(): string | undefined {
  const fromBody = SiteId.safeParse(document.body.dataset.site);
  if (fromBody.success) return fromBody.data;
  const fromPath = SiteId.safeParse(decodeURIComponent(location.pathname.split("/")[2] ?? ""));
  return fromPath.success ? fromPath.data : undefined;
}

const site = siteOfPage();
if (!site) {
  document.body.replaceChildren(h("p", {}, "This page needs a site: /wall/{site}."));
} else {
  void new Wall(document.body, site, new Rest(site)).start();
}
