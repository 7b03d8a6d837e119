using System.Net;
using System.Security.Claims;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using SlmStudio.Web.Api;
using SlmStudio.Web.Data;
using SlmStudio.Web.Jobs;
using SlmStudio.Web.Security;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Tests;

/// <summary>Issue 13: the audit log records who did what and when, and only administrators read it.</summary>
public sealed class AuditTests
{
    private static async Task<ClaimsPrincipal> PrincipalAsync(StudioTestHost host, string email)
    {
        await using var scope = host.Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.UserManager<StudioUser>>();
        var factory = scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.IUserClaimsPrincipalFactory<StudioUser>>();
        return await factory.CreateAsync((await users.FindByNameAsync(email))!);
    }

    [Fact]
    public async Task Sign_in_upload_training_keys_and_access_changes_are_recorded_and_only_administrators_read_them()
    {
        await using var host = await StudioTestHost.StartAsync(web: true);
        await host.AddUserAsync("admin@example.com", StudioRoles.Administrator);
        await host.AddUserAsync("builder@example.com", StudioRoles.Builder);
        var viewer = await host.AddUserAsync("viewer@example.com", StudioRoles.Viewer);

        // Sign-in: a wrong password and a right one, through the real form.
        using (var anonymous = await host.ClientAsync())
            Assert.Equal(HttpStatusCode.OK, (await StudioTestHost.SignInAsync(anonymous, "builder@example.com", "not the password at all")).StatusCode);
        using var builderHttp = await host.ClientAsync("builder@example.com");

        int projectId;
        using (StudioUserContext.Use(await PrincipalAsync(host, "builder@example.com")))
        {
            var project = new Project { Name = "Audited" };
            await host.Get<ProjectService>().SaveAsync(project, 0);
            projectId = project.Id;
            var upload = await host.Get<DataUploads>().SaveAsync(projectId, "handbook.txt", new MemoryStream(Encoding.UTF8.GetBytes("Descale the machine every month.\n")), CancellationToken.None);
            Assert.Null(upload.Problem);
            var runId = await host.Get<RunScheduler>().StartAsync(projectId, StudioUserContext.Name);
            await host.Get<RunScheduler>().CancelAsync(runId);
            var keys = host.Get<ApiKeyService>();
            await keys.CreateAsync("docs bot", [projectId], null);
            await keys.RevokeAsync((await keys.MineAsync()).Single().Id);
        }
        using (StudioUserContext.Use(await PrincipalAsync(host, "admin@example.com")))
        {
            var access = host.Get<AccessAdministration>();
            Assert.Empty(await access.AddPersonAsync("new@example.com", "a long enough password", StudioRoles.Viewer));
            await access.SetRoleAsync(viewer.Id, StudioRoles.Builder);
            await access.AddMemberAsync(projectId, viewer.Id);
            await access.RemoveMemberAsync(projectId, viewer.Id);

            var all = await host.Get<AuditLog>().ReadAsync();
            Assert.Equal(all.OrderByDescending(r => r.At).Select(r => r.Action), all.Select(r => r.Action)); // newest first
            string[] expected =
            [
                AuditActions.SignInFailed, AuditActions.SignIn, AuditActions.Upload, AuditActions.TrainingStarted, AuditActions.TrainingCancelled,
                AuditActions.KeyCreated, AuditActions.KeyRevoked, AuditActions.PersonAdded, AuditActions.RoleChanged, AuditActions.MemberAdded, AuditActions.MemberRemoved,
            ];
            Assert.Equal(expected, all.Select(r => r.Action).Reverse());
            Assert.All(all.Take(4), r => Assert.Equal("admin@example.com", r.User));
            Assert.All(all.Skip(4), r => Assert.Equal("builder@example.com", r.User));
            Assert.Contains("handbook.txt", all.Single(r => r.Action == AuditActions.Upload).Detail);
            Assert.DoesNotContain(all, r => r.Detail.Contains("not the password", StringComparison.Ordinal));

            // Filters: by person (part of the address) and by project.
            Assert.All(await host.Get<AuditLog>().ReadAsync(user: "admin@"), r => Assert.Equal("admin@example.com", r.User));
            var ofProject = await host.Get<AuditLog>().ReadAsync(projectId: projectId);
            Assert.Equal([AuditActions.MemberRemoved, AuditActions.MemberAdded, AuditActions.TrainingCancelled, AuditActions.TrainingStarted, AuditActions.Upload], ofProject.Select(r => r.Action));
            Assert.Empty(await host.Get<AuditLog>().ReadAsync(projectId: projectId + 1));
        }

        // Only administrators: the page and the service.
        using (StudioUserContext.Use(await PrincipalAsync(host, "builder@example.com")))
            await Assert.ThrowsAsync<UserFacingException>(() => host.Get<AuditLog>().ReadAsync());
        var page = await builderHttp.GetAsync("/admin/audit");
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.Contains("/account/denied", page.Headers.Location!.OriginalString);
        using var adminHttp = await host.ClientAsync("admin@example.com");
        Assert.Equal(HttpStatusCode.OK, (await adminHttp.GetAsync("/admin/audit")).StatusCode);
    }
}
