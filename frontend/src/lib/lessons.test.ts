import { describe, expect, it } from "vitest";
import { agreeToClear, checkLabel, citation, isSkipped, takeAgreedClear, wholeNeeds } from "./lessons";

describe("lesson labels", () => {
  it("asks its neutral question until the check is judged, then names the claim", () => {
    const check = { label: "Past the backlog, clients wait", asks: "What happens past the backlog?" };
    expect(checkLabel(check, null, "not yet observed")).toBe("What happens past the backlog?");
    expect(checkLabel(check, true, "c4 waited in SYN_SENT")).toBe("Past the backlog, clients wait");
    expect(checkLabel(check, false, "c4 was refused")).toBe("Past the backlog, clients wait");
    // a check the machine could not run names what it would have proven
    expect(checkLabel(check, null, "not possible on this machine: no namespaces")).toBe("Past the backlog, clients wait");
  });

  it("tells a check the machine could not run from one not observed yet", () => {
    expect(isSkipped("not possible on this machine: no namespaces")).toBe(true);
    expect(isSkipped("not yet: no recv() has timed out")).toBe(false);
  });
});

describe("agreeToClear / takeAgreedClear", () => {
  it("an agreement to clear the lab is taken once, for that lesson only", () => {
    agreeToClear("partial-send");
    expect(takeAgreedClear("framing")).toBe(false);
    expect(takeAgreedClear("partial-send")).toBe(true);
    expect(takeAgreedClear("partial-send")).toBe(false); // a second start asks again
  });
});

describe("citation", () => {
  it("names the HOWTO's sections, or a lesson's own sources beyond it", () => {
    expect(citation({ howto_sections: ["Using a Socket", "Disconnecting"], sources: [] })).toBe("HOWTO: Using a Socket · Disconnecting");
    expect(citation({ howto_sections: [], sources: ["tcp(7)", "RFC 896"] })).toBe("Beyond the HOWTO: tcp(7) · RFC 896");
  });
});

describe("wholeNeeds", () => {
  it("names what every step needs, once, and nothing when only some steps need it", () => {
    expect(wholeNeeds([{ needs: "ipv6" }, { needs: "ipv6" }])).toBe("ipv6");
    expect(wholeNeeds([{ needs: null }, { needs: "private_network" }])).toBeNull();
    expect(wholeNeeds([{ needs: "ipv6" }, { needs: null }])).toBeNull();
    expect(wholeNeeds([])).toBeNull();
  });
});
