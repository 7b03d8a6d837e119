using System.Net;
using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SlmStudio.Web.Data;
using SlmStudio.Web.Security;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Tests;

/// <summary>
/// Sign-in and access through the real portal over HTTP (pages, files, the jobs dashboard) and through the services
/// the pages call (membership). Every cell of the matrix states the answer expected; any other answer fails.
/// </summary>
public sealed class AccessTests
{
    private const string Admin = "admin@example.com", BuilderMember = "owner@example.com", BuilderOther = "builder@example.com",
        ViewerMember = "viewer@example.com", ViewerOther = "outsider@example.com";

    private sealed record World(StudioTestHost Host, int ProjectA, int ProjectB, int VersionA, int VersionB) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Host.DisposeAsync();
    }

    /// <summary>Project A is owned by a Builder and shared with a Viewer; project B belongs to the other Builder. Each has one
    /// registered version whose files are absent (the download answers 410 once access is granted, 404 when it is not).</summary>
    private static async Task<World> StartWorldAsync()
    {
        var host = await StudioTestHost.StartAsync(web: true);
        await host.AddUserAsync(Admin, StudioRoles.Administrator);
        var owner = await host.AddUserAsync(BuilderMember, StudioRoles.Builder);
        var other = await host.AddUserAsync(BuilderOther, StudioRoles.Builder);
        var viewer = await host.AddUserAsync(ViewerMember, StudioRoles.Viewer);
        await host.AddUserAsync(ViewerOther, StudioRoles.Viewer);
        await using var db = await host.DbAsync();
        var a = new Project { Name = "A", OwnerId = owner.Id, CreatedAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow };
        a.Members.Add(new ProjectMember { UserId = viewer.Id });
        var b = new Project { Name = "B", OwnerId = other.Id, CreatedAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow };
        db.Projects.AddRange(a, b);
        await db.SaveChangesAsync();
        var va = new ModelVersion { ProjectId = a.Id, Number = 1, RunId = 1, Folder = "absent-a" };
        var vb = new ModelVersion { ProjectId = b.Id, Number = 1, RunId = 2, Folder = "absent-b" };
        db.ModelVersions.AddRange(va, vb);
        await db.SaveChangesAsync();
        return new World(host, a.Id, b.Id, va.Id, vb.Id);
    }

    // Answers: "ok" (200), "login" (302 to sign-in), "denied" (302 to the no-access page), or a status code.
    private static string Answer(HttpResponseMessage r) => r.StatusCode switch
    {
        HttpStatusCode.OK => "ok",
        HttpStatusCode.Redirect when r.Headers.Location!.OriginalString.Contains("/account/login") => "login",
        HttpStatusCode.Redirect when r.Headers.Location!.OriginalString.Contains("/account/denied") => "denied",
        var code => ((int)code).ToString(),
    };

    [Fact]
    public async Task Role_matrix_over_http_allows_exactly_what_each_role_and_membership_grants()
    {
        await using var world = await StartWorldAsync();
        string[] people = ["anonymous", ViewerOther, ViewerMember, BuilderOther, BuilderMember, Admin];
        var (a, b, va, vb) = (world.ProjectA, world.ProjectB, world.VersionA, world.VersionB);
        // Expected answer per person, in the order of `people`.
        var matrix = new (string Path, string[] Expected)[]
        {
            ("/", ["login", "ok", "ok", "ok", "ok", "ok"]),
            ("/models", ["login", "ok", "ok", "ok", "ok", "ok"]),
            ("/playground", ["login", "ok", "ok", "ok", "ok", "ok"]),
            ("/projects/new", ["login", "denied", "denied", "ok", "ok", "ok"]),
            ($"/projects/{a}", ["login", "denied", "denied", "ok", "ok", "ok"]),
            ("/runs/1", ["login", "denied", "denied", "ok", "ok", "ok"]),
            ("/jobs", ["login", "denied", "denied", "ok", "ok", "ok"]),
            ("/admin/users", ["login", "denied", "denied", "denied", "denied", "ok"]),
            ("/hangfire", ["401", "403", "403", "403", "403", "ok"]),
            // Files: 410 means access was granted and the (absent) files were looked for; 404 hides the project.
            ($"/api/versions/{va}/download", ["401", "404", "410", "404", "410", "410"]),
            ($"/api/versions/{vb}/download", ["401", "404", "404", "410", "404", "410"]),
            ("/account/keys", ["login", "ok", "ok", "ok", "ok", "ok"]),
            // The API takes keys, not the sign-in cookie.
            ("/v1/models", ["401", "401", "401", "401", "401", "401"]),
            ("/account/login", ["ok", "ok", "ok", "ok", "ok", "ok"]),
        };
        var unexpected = new List<string>();
        for (var i = 0; i < people.Length; i++)
        {
            using var http = await world.Host.ClientAsync(people[i] == "anonymous" ? null : people[i]);
            foreach (var (path, expected) in matrix)
            {
                var answer = Answer(await http.GetAsync(path));
                if (answer != expected[i]) unexpected.Add($"{people[i]} GET {path}: expected {expected[i]}, got {answer}");
            }
        }
        Assert.Empty(unexpected);
    }

    [Fact]
    public async Task Services_show_and_change_only_projects_the_person_owns_or_is_a_member_of()
    {
        await using var world = await StartWorldAsync();
        var projects = world.Host.Get<ProjectService>();
        var registry = world.Host.Get<ModelRegistry>();
        async Task<ClaimsPrincipal> As(string email)
        {
            await using var scope = world.Host.Services.CreateAsyncScope();
            var factory = scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.IUserClaimsPrincipalFactory<StudioUser>>();
            var users = scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.UserManager<StudioUser>>();
            return await factory.CreateAsync((await users.FindByNameAsync(email))!);
        }
        async Task<string[]> Visible(string email)
        {
            using (StudioUserContext.Use(await As(email)))
                return [.. (await projects.ListAsync()).Select(p => p.Name).Order()];
        }

        Assert.Equal(["A", "B"], await Visible(Admin));
        Assert.Equal(["A"], await Visible(BuilderMember));
        Assert.Equal(["B"], await Visible(BuilderOther));
        Assert.Equal(["A"], await Visible(ViewerMember));
        Assert.Empty(await Visible(ViewerOther));
        using (StudioUserContext.Use(new ClaimsPrincipal(new ClaimsIdentity())))
            Assert.Empty(await projects.ListAsync());

        using (StudioUserContext.Use(await As(BuilderOther)))
        {
            Assert.Null(await projects.OpenAsync(world.ProjectA));
            Assert.Null(await registry.FindAsync(world.VersionA));
            Assert.Empty(await registry.VersionsOfAsync(world.ProjectA));
            var sneaky = new Project { Id = world.ProjectA, Name = "taken over" };
            await Assert.ThrowsAsync<UserFacingException>(() => projects.SaveAsync(sneaky, 1));
            // A Builder's new project is theirs.
            var mine = new Project { Name = "C" };
            await projects.SaveAsync(mine, 1);
            Assert.NotNull(await projects.OpenAsync(mine.Id));
        }
        using (StudioUserContext.Use(await As(ViewerMember)))
        {
            Assert.NotNull(await registry.FindAsync(world.VersionA));
            var opened = (await projects.OpenAsync(world.ProjectA))!.Project;
            opened.Name = "renamed by a viewer";
            await Assert.ThrowsAsync<UserFacingException>(() => projects.SaveAsync(opened, 1));
            await Assert.ThrowsAsync<UserFacingException>(() => projects.SaveAsync(new Project { Name = "viewer's" }, 1));
        }
        await using var db = await world.Host.DbAsync();
        Assert.Equal("A", (await db.Projects.SingleAsync(p => p.Id == world.ProjectA)).Name);
        Assert.Equal(BuilderOther, (await db.Users.SingleAsync(u => u.Id == db.Projects.Single(p => p.Name == "C").OwnerId)).Email);
    }

    [Fact]
    public async Task First_administrator_is_created_once_with_the_set_up_code_and_sign_in_locks_after_wrong_passwords()
    {
        await using var host = await StudioTestHost.StartAsync(web: true);
        var setup = host.Get<FirstRunSetup>();
        Assert.True(setup.Pending);
        using var http = await host.ClientAsync();
        // Before set-up every page leads to it.
        Assert.Equal("/account/setup", (await http.GetAsync("/account/login")).Headers.Location!.OriginalString);

        var wrong = await StudioTestHost.PostFormAsync(http, "/account/setup", new() { ["code"] = "NOT-IT", ["email"] = Admin, ["password"] = StudioTestHost.TestPassword });
        Assert.Contains("set-up code is not right", await wrong.Content.ReadAsStringAsync());
        var code = (string)typeof(FirstRunSetup).GetField("_code", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(setup)!;
        var weak = await StudioTestHost.PostFormAsync(http, "/account/setup", new() { ["code"] = code, ["email"] = Admin, ["password"] = "short" });
        Assert.Contains("at least 12 characters", await weak.Content.ReadAsStringAsync());
        var created = await StudioTestHost.PostFormAsync(http, "/account/setup", new() { ["code"] = code, ["email"] = Admin, ["password"] = StudioTestHost.TestPassword });
        Assert.Equal(HttpStatusCode.Redirect, created.StatusCode);
        Assert.False(setup.Pending);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/admin/users")).StatusCode);
        // The code works once.
        using var second = await host.ClientAsync();
        Assert.Equal("/account/login", (await second.GetAsync("/account/setup")).Headers.Location!.OriginalString);

        // Five wrong passwords lock the account: then even the right one is refused.
        for (var i = 0; i < 5; i++) await StudioTestHost.SignInAsync(second, Admin, "wrong password " + i);
        var locked = await StudioTestHost.SignInAsync(second, Admin, StudioTestHost.TestPassword);
        Assert.Equal(HttpStatusCode.OK, locked.StatusCode);
        Assert.Contains("locked", await locked.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Posting_a_form_without_its_antiforgery_token_is_refused_and_pages_carry_security_headers()
    {
        await using var host = await StudioTestHost.StartAsync(web: true);
        await host.AddUserAsync(Admin, StudioRoles.Administrator);
        using var http = await host.ClientAsync();
        var forged = await http.PostAsync("/account/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["email"] = Admin, ["password"] = StudioTestHost.TestPassword }));
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        var page = await http.GetAsync("/account/login");
        Assert.Equal("DENY", page.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("nosniff", page.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Contains("frame-ancestors 'none'", page.Headers.GetValues("Content-Security-Policy").Single());
    }

    [Fact]
    public async Task First_administrator_from_configuration_for_headless_deployments()
    {
        await using var host = await StudioTestHost.StartAsync(new() { ["Studio:FirstAdmin:Email"] = Admin, ["Studio:FirstAdmin:Password"] = StudioTestHost.TestPassword }, web: true);
        Assert.False(host.Get<FirstRunSetup>().Pending);
        using var http = await host.ClientAsync(Admin);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/hangfire")).StatusCode);
    }
}
