using System.Net;
using System.Security.Claims;
using Bunit;
using Microsoft.AspNetCore.Components;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;
using SlmStudio.Web.Components.Pages.Admin;
using SlmStudio.Web.Data;
using SlmStudio.Web.Security;

namespace SlmStudio.Web.Tests;

/// <summary>
/// The /admin/audit page itself: rendered without a browser against the real audit log (real SQLite), with its query
/// filters, and refused over HTTP to everyone but administrators. The portal renders pages only once the live
/// connection is up (no prerendering), so the rows are checked on the rendered component, the access on the HTTP answer.
/// </summary>
public sealed class AuditPageTests : BunitContext, IAsyncLifetime
{
    private StudioTestHost _host = default!;

    public async Task InitializeAsync()
    {
        _host = await StudioTestHost.StartAsync(web: true);
        JSInterop.Mode = JSRuntimeMode.Loose;
        Services.AddMudServices();
        Services.AddSingleton(_host.Get<AuditLog>());
        await _host.AddUserAsync("admin@example.com", StudioRoles.Administrator);
        await _host.AddUserAsync("builder@example.com", StudioRoles.Builder);
        var audit = _host.Get<AuditLog>();
        await audit.RecordAsync(AuditActions.Upload, "'first-marker.txt' (12 bytes, file 1)", projectId: 41, user: "builder@example.com");
        await audit.RecordAsync(AuditActions.Freeze, "dataset version 9 (second-marker)", projectId: 42, user: "builder@example.com");
        await audit.RecordAsync(AuditActions.KeyCreated, "'third-marker' (slm_abc) for projects 41", user: "other@example.com");
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _host.DisposeAsync();
    }

    private static ClaimsPrincipal Administrator() =>
        new(new ClaimsIdentity([new Claim(ClaimTypes.Name, "admin@example.com"), new Claim(ClaimTypes.Role, StudioRoles.Administrator)], "test"));

    private string Rendered(int? project = null, string? user = null, string? action = null)
    {
        using var _ = StudioUserContext.Use(Administrator());
        var navigation = Services.GetRequiredService<NavigationManager>();
        navigation.NavigateTo(navigation.GetUriWithQueryParameters("/admin/audit", new Dictionary<string, object?> { ["project"] = project, ["user"] = user, ["action"] = action }));
        var cut = Render<AuditPage>();
        cut.WaitForAssertion(() => Assert.DoesNotContain("mud-progress-linear", cut.Markup));
        return cut.Markup;
    }

    [Fact]
    public async Task The_project_is_a_column_of_its_own_not_a_prefix_of_the_text()
    {
        await using var db = await _host.DbAsync();
        Assert.Equal([41, 42, null], await db.AuditLog.Where(e => e.Detail.Contains("-marker")).OrderBy(e => e.Id).Select(e => e.ProjectId).ToListAsync());
        Assert.DoesNotContain(await db.AuditLog.Select(e => e.Detail).ToListAsync(), d => d.StartsWith("[project", StringComparison.Ordinal));
    }

    [Fact]
    public void The_page_lists_every_entry_newest_first_with_its_project()
    {
        var all = Rendered();
        Assert.Contains("first-marker.txt", all);
        Assert.Contains("second-marker", all);
        Assert.Contains("third-marker", all);
        Assert.Contains("#41", all);
        Assert.True(all.IndexOf("third-marker", StringComparison.Ordinal) < all.IndexOf("first-marker", StringComparison.Ordinal), "newest first");
    }

    [Fact]
    public void The_page_filters_by_project_person_and_action()
    {
        var ofProject = Rendered(project: 41);
        Assert.Contains("first-marker.txt", ofProject);
        Assert.DoesNotContain("second-marker", ofProject);
        Assert.DoesNotContain("third-marker", ofProject);

        var ofPerson = Rendered(user: "other@");
        Assert.Contains("third-marker", ofPerson);
        Assert.DoesNotContain("first-marker", ofPerson);

        var ofAction = Rendered(action: AuditActions.Freeze);
        Assert.Contains("second-marker", ofAction);
        Assert.DoesNotContain("first-marker", ofAction);
        Assert.DoesNotContain("third-marker", ofAction);

        Assert.Contains("Nothing recorded for this filter", Rendered(project: 999));
    }

    [Fact]
    public async Task Only_administrators_get_the_page_over_http()
    {
        using var admin = await _host.ClientAsync("admin@example.com");
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/admin/audit?project=41")).StatusCode);

        using var builder = await _host.ClientAsync("builder@example.com");
        var refused = await builder.GetAsync("/admin/audit?project=41");
        Assert.Equal(HttpStatusCode.Redirect, refused.StatusCode);
        Assert.Contains("/account/denied", refused.Headers.Location!.OriginalString);
        Assert.DoesNotContain("first-marker", await refused.Content.ReadAsStringAsync());

        using var anonymous = await _host.ClientAsync();
        var signIn = await anonymous.GetAsync("/admin/audit");
        Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        Assert.Contains("/account/login", signIn.Headers.Location!.OriginalString);
    }
}
