/**
 * The web UI in Chromium against a real `aloft standalone`: log in, trigger a DAG and watch it
 * succeed in the grid without reloading, open a task's log, clear the task and watch its second try,
 * make and delete a pool on the admin pages, and open the cluster page; no page error or 5xx on the way.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { waitFor } from "../helpers/aloft.js";
import { browserSkipReason, logIn, useUi } from "../helpers/browser.js";

const DAGS = {
  "ui_demo.ts": `import { bash, dag } from "aloft";
dag("ui_demo", { schedule: null, tags: ["demo"], params: { rows: 3 }, description: "three steps for the UI tests" }, () => {
  const extract = bash("extract", 'echo "extracting {{ params.rows }} rows"; sleep 1');
  const transform = bash("transform", 'echo "transforming"');
  const load = bash("load", 'echo "loading"');
  extract.then(transform).then(load);
});
`,
  "other.ts": `import { bash, dag } from "aloft";
dag("other_dag", { schedule: null, tags: ["misc"] }, () => { bash("only", "echo hi"); });
`,
};

const SLOW = 60_000;

describe("web UI in Chromium", { skip: browserSkipReason() }, () => {
  const ui = useUi(DAGS);

  test("a wrong password is refused on the page; the right one shows the DAG list", async () => {
    const { page } = ui;
    await page.goto(ui.baseUrl);
    await page.fill("#username", "admin");
    await page.fill("#password", "not the password");
    await page.click("button[type=submit]");
    await page.waitForSelector(".error");
    assert.match(await page.textContent(".error") ?? "", /wrong username or password/);
    await logIn(page, ui.baseUrl, "admin", ui.password);
    await page.waitForSelector("[data-dag-id=ui_demo]");
    await page.fill("[data-testid=dag-search]", "ui_");
    await page.press("[data-testid=dag-search]", "Enter");
    await waitFor("the search to leave one DAG", async () => ((await page.locator("[data-testid=dag-list] tbody tr").count()) === 1 ? true : undefined));
    assert.ok(await page.isVisible("[data-dag-id=ui_demo]"));
  });

  test("trigger ui_demo from its params form and watch it succeed in the grid, without reloading", async () => {
    const { page } = ui;
    await page.click("[data-testid=trigger-ui_demo]");
    await page.waitForSelector("#param-rows");
    await page.fill("#param-rows", "7");
    await page.click("[data-testid=trigger-submit]");
    // The trigger opens the DAG's grid; polling turns the run green with no reload.
    await page.waitForSelector("[data-testid=grid]");
    const navigations: string[] = [];
    page.on("framenavigated", (frame) => frame === page.mainFrame() && navigations.push(frame.url()));
    await page.waitForSelector("[data-testid=grid-run][data-state=success]", { timeout: SLOW });
    for (const task of ["extract", "transform", "load"]) {
      assert.ok(await page.isVisible(`[data-testid=grid-cell][data-task-id=${task}][data-state=success]`), `${task} is green`);
    }
    assert.ok(navigations.every((url) => !url.endsWith("/") || url.includes("#")), `no full reload: ${navigations.join(", ")}`);
  });

  test("open a task's log: it shows what the try printed, with the param the run was given", async () => {
    const { page } = ui;
    await page.click("[data-testid=grid-cell][data-task-id=extract]");
    await page.click("[data-testid=open-task-log]");
    await page.waitForSelector("[data-testid=task-log]");
    await page.locator("[data-testid=task-log]", { hasText: "extracting 7 rows" }).waitFor({ timeout: SLOW });
  });

  test("clear the task after confirming: it runs again, and its second try shows in the history", async () => {
    const { page } = ui;
    await page.click("[data-testid=clear-task]");
    await page.click("[data-testid=confirm]");
    // The page follows the task without a reload: its second try runs and succeeds.
    await page.locator("[data-testid=ti-try]", { hasText: /^2 of/ }).waitFor({ timeout: SLOW });
    await page.waitForSelector("[data-testid=ti-state][data-state=success]", { timeout: SLOW });
    await page.click("[data-testid=tab-tries]");
    await page.waitForSelector("[data-testid=try-2] [data-state=success]");
    assert.ok(await page.isVisible("[data-testid=try-1] [data-state=success]"), "the first try stays in the history");
    const runs = await ui.standalone.cliJson<Array<{ run_id: string; state: string }>>(["dags", "list-runs", "ui_demo"]);
    assert.equal(runs.length, 1, "clearing made no new run");
  });

  test("admin: a pool made in the form is listed and deleted after confirming; default_pool's refusal shows in the dialog", async () => {
    const { page } = ui;
    await page.click("header nav >> text=Admin");
    await page.click("[data-testid=tab-pools]");
    await page.waitForSelector("[data-testid=pools] tr[data-key=default_pool]");
    await page.click("[data-testid=create-pool]");
    await page.fill("[data-testid=field-name]", "ui_pool");
    await page.fill("[data-testid=field-slots]", "-3");
    await page.click("[data-testid=save]");
    await page.waitForSelector("[data-testid=form-error]");
    await page.fill("[data-testid=field-slots]", "5");
    await page.click("[data-testid=save]");
    await page.click("[data-testid=confirm]");
    const row = page.locator("[data-testid=pools] tr[data-key=ui_pool]");
    await row.waitFor();
    assert.match((await row.textContent()) ?? "", /5/);
    await row.locator("[data-testid=delete]").click();
    await page.click("[data-testid=confirm]");
    await row.waitFor({ state: "detached" });
    await page.locator("[data-testid=pools] tr[data-key=default_pool] [data-testid=delete]").click();
    await page.click("[data-testid=confirm]");
    await page.locator(".modal .error", { hasText: "default_pool" }).waitFor();
    await page.click(".modal >> text=Cancel");
    assert.ok(await page.isVisible("[data-testid=pools] tr[data-key=default_pool]"));
  });

  test("the cluster page shows the in-process scheduler as the leader, with its epoch", async () => {
    const { page } = ui;
    await page.click("header nav >> text=Cluster");
    await page.waitForSelector("[data-testid=cluster]");
    const leader = page.locator("[data-testid=ha-leader]", { hasText: "standalone (in-process scheduler)" });
    await leader.waitFor();
    assert.notEqual(await leader.getAttribute("data-leader"), "", "a leader is named");
    assert.match((await leader.textContent()) ?? "", /Epoch\s*[1-9]/);
    assert.deepEqual(ui.pageErrors, []);
  });
});
