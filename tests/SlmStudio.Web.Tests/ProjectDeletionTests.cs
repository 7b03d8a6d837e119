using System.Security.Claims;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SlmStudio.Web.Data;
using SlmStudio.Web.Options;
using SlmStudio.Web.Security;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Tests;

/// <summary>Issue 13: deleting a project deletes its uploads, dataset versions, runs and registered versions, after a
/// confirmation that names them; only its owner or an administrator, and never while it trains.</summary>
public sealed class ProjectDeletionTests
{
    private static async Task<ClaimsPrincipal> PrincipalAsync(StudioTestHost host, string email)
    {
        await using var scope = host.Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.UserManager<StudioUser>>();
        return await scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.IUserClaimsPrincipalFactory<StudioUser>>().CreateAsync((await users.FindByNameAsync(email))!);
    }

    [Fact]
    public async Task A_project_is_deleted_with_all_its_files_after_naming_them_and_not_while_it_trains()
    {
        await using var host = await StudioTestHost.StartAsync();
        var owner = await host.AddUserAsync("owner@example.com", StudioRoles.Builder);
        var member = await host.AddUserAsync("member@example.com", StudioRoles.Builder);
        var paths = host.Get<StudioPaths>();

        // A project with an upload, a dataset version, a run and a registered version, each with its files; and a
        // second project whose files must survive.
        int projectId, otherId, runId;
        await using (var db = await host.DbAsync())
        {
            var project = new Project { Name = "Payroll", OwnerId = owner.Id };
            var other = new Project { Name = "Handbook", OwnerId = owner.Id };
            db.Projects.AddRange(project, other);
            await db.SaveChangesAsync();
            (projectId, otherId) = (project.Id, other.Id);
            db.ProjectMembers.Add(new ProjectMember { ProjectId = projectId, UserId = member.Id });
            db.DataFiles.Add(new DataFile { ProjectId = projectId, OriginalName = "salaries.csv", StoredName = "a.csv", Kind = "Csv" });
            var dataset = new DatasetVersionRecord { ProjectId = projectId, DatasetId = "ds-1", Folder = "datasets/ds-1", ContentSha256 = "x" };
            db.DatasetVersions.Add(dataset);
            await db.SaveChangesAsync();
            var run = new TrainingRun { ProjectId = projectId, CreatedBy = "owner@example.com", Status = RunStatus.Running, DatasetVersionId = dataset.Id };
            db.Runs.Add(run);
            await db.SaveChangesAsync();
            runId = run.Id;
            db.RunEvents.Add(new RunEvent { RunId = runId, Kind = "step", Json = "{}" });
            var version = new ModelVersion { ProjectId = projectId, Number = 1, RunId = runId, Folder = $"project-{projectId}/v1", ManifestJson = "{}", DatasetVersionId = dataset.Id };
            db.ModelVersions.Add(version);
            await db.SaveChangesAsync();
            db.Aliases.Add(new ModelAlias { ProjectId = projectId, Name = "production", ModelVersionId = version.Id });
            project.DatasetVersionId = dataset.Id;
            await db.SaveChangesAsync();
        }
        string[] files =
        [
            Path.Combine(paths.Uploads(projectId), "a.csv"), Path.Combine(paths.Uploads(projectId), "a.csv.extracted.json"),
            Path.Combine(paths.Jobs, "datasets/ds-1/train.txt"), Path.Combine(paths.Run(runId), "metrics.jsonl"),
            Path.Combine(paths.Models, $"project-{projectId}/v1/model.onnx"),
        ];
        var keep = Path.Combine(paths.Uploads(otherId), "keep.txt");
        foreach (var f in files.Append(keep))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(f)!);
            await File.WriteAllTextAsync(f, "secret", Encoding.UTF8);
        }
        var deletion = host.Get<ProjectDeletion>();

        // A member who is not the owner may not.
        using (StudioUserContext.Use(await PrincipalAsync(host, "member@example.com")))
            Assert.Contains("Only the project's owner or an administrator", (await Assert.ThrowsAsync<UserFacingException>(() => deletion.PlanAsync(projectId))).Message);

        using (StudioUserContext.Use(await PrincipalAsync(host, "owner@example.com")))
        {
            // While it trains: the confirmation says why not, and deleting is refused.
            var plan = await deletion.PlanAsync(projectId);
            Assert.Contains($"Training run {runId} of this project is still training", plan.Blocker);
            Assert.Contains((await Assert.ThrowsAsync<UserFacingException>(() => deletion.DeleteAsync(projectId, "Payroll"))).Message, plan.Blocker);
            Assert.All(files, f => Assert.True(File.Exists(f)));

            await using (var db = await host.DbAsync())
                await db.Runs.Where(r => r.Id == runId).ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, RunStatus.Succeeded));
            plan = await deletion.PlanAsync(projectId);
            Assert.Null(plan.Blocker);
            var lines = string.Join("\n", plan.Lines());
            Assert.Contains("1 uploaded file and their extracted text: salaries.csv", lines);
            Assert.Contains("1 frozen dataset version", lines);
            Assert.Contains("1 training run", lines);
            Assert.Contains("registered model version 1", lines);

            // The name must be typed.
            await Assert.ThrowsAsync<UserFacingException>(() => deletion.DeleteAsync(projectId, "payroll?"));
            Assert.True(File.Exists(files[0]));

            await deletion.DeleteAsync(projectId, "Payroll");
        }

        Assert.All(files, f => Assert.False(File.Exists(f), $"{f} was not deleted"));
        Assert.False(Directory.Exists(paths.Uploads(projectId)));
        Assert.False(Directory.Exists(paths.Run(runId)));
        Assert.True(File.Exists(keep));
        await using (var db = await host.DbAsync())
        {
            Assert.False(await db.Projects.AnyAsync(p => p.Id == projectId));
            Assert.True(await db.Projects.AnyAsync(p => p.Id == otherId));
            Assert.Equal(0, await db.DataFiles.CountAsync() + await db.DatasetVersions.CountAsync() + await db.Runs.CountAsync() + await db.RunEvents.CountAsync()
                + await db.ModelVersions.CountAsync() + await db.Aliases.CountAsync() + await db.ProjectMembers.CountAsync());
            var entry = await db.AuditLog.SingleAsync(a => a.Action == AuditActions.ProjectDeleted);
            Assert.Equal("owner@example.com", entry.UserName);
            Assert.Contains("'Payroll' with 1 uploads, 1 dataset versions, 1 runs and 1 registered versions", entry.Detail);
            Assert.DoesNotContain("salaries", entry.Detail); // the fact, not the data
        }
    }
}
