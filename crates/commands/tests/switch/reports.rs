//! show calls / registrations / codec, and every report `as xml` / `as delim <X>`.

use super::{other_half, parked_call, switch, text};

#[tokio::test]
async fn show_reports() {
    let switch = switch("reports").await;
    let a = parked_call(&switch).await;
    let b = parked_call(&switch).await;
    switch.connect(&a.id, &b.id).expect("bridged");
    let run = |line: &str| {
        let (switch, line) = (switch.clone(), line.to_owned());
        async move { text(&switch, &line).await }
    };

    // Four channels: a and b make one call; the other halves are alone.
    let calls = run("show calls").await;
    let lines: Vec<&str> = calls.lines().collect();
    assert!(lines[0].starts_with("uuid,direction,created,created_epoch,name,state,"));
    assert!(lines[0].ends_with(",b_sent_callee_name,b_sent_callee_num,call_created_epoch"));
    let row = lines
        .iter()
        .find(|l| l.starts_with(&format!("{},", a.id)))
        .expect("a's row");
    let fields: Vec<&str> = row.split(',').collect();
    assert_eq!(fields.len(), 41);
    assert_eq!(fields[21], b.id, "b_uuid");
    assert!(!lines.iter().any(|l| l.starts_with(&format!("{},", b.id))));
    assert!(calls.ends_with("\n\n3 total.\n"), "{calls}");
    assert_eq!(run("show calls count").await, "\n3 total.\n");
    let lonely = other_half(&switch, &a);
    assert!(calls.contains(&format!("\n{lonely},")));

    let xml = run("show channels as xml").await;
    assert!(
        xml.starts_with("<result row_count=\"4\">\n  <row row_id=\"1\">\n    <uuid>"),
        "{xml}"
    );
    assert!(xml.contains("\n    <ip_addr></ip_addr>\n"), "{xml}");
    assert!(xml.ends_with("  </row>\n</result>\n"));
    assert_eq!(
        run("show channels count as xml").await,
        "<result row_count=\"4\"/>\n"
    );
    assert_eq!(
        run("show channels count as json").await,
        "{\"row_count\":4,\"rows\":[]}"
    );
    let piped = run("show channels as delim |").await;
    assert!(piped.starts_with("uuid|direction|created|"), "{piped}");
    assert!(piped.ends_with("\n\n4 total.\n"));
    let api_xml = run("show api as xml").await;
    assert!(api_xml.contains("<name>uuid_dump</name>"), "{api_xml}");
    assert_eq!(
        run("show channels as yaml").await,
        "-ERR Cannot find format yaml\n"
    );

    let codecs = run("show codec").await;
    assert_eq!(
        codecs,
        "type,name,ikey\ncodec,G.711 alaw,CORE_PCM_MODULE\ncodec,G.711 ulaw,CORE_PCM_MODULE\n\
         codec,G.722,mod_spandsp\ncodec,LINEAR PCM,CORE_PCM_MODULE\n\n4 total.\n"
    );
    // No endpoint has registered.
    assert_eq!(run("show registrations").await, "\n0 total.\n");
    assert_eq!(
        run("show registrations as xml").await,
        "<result row_count=\"0\"/>\n"
    );
    assert!(run("show bogus").await.starts_with("-USAGE: "));
    switch.shutdown().await;
}
