using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace SlmStudio.Web.Data.Migrations
{
    /// <inheritdoc />
    public partial class DatasetVersions : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_DataFiles_ProjectId",
                table: "DataFiles");

            migrationBuilder.AddColumn<int>(
                name: "DatasetVersionId",
                table: "Runs",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "DatasetVersionId",
                table: "Projects",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "RedactPersonalData",
                table: "Projects",
                type: "INTEGER",
                nullable: false,
                defaultValue: true);

            migrationBuilder.AddColumn<bool>(
                name: "RemoveDuplicates",
                table: "Projects",
                type: "INTEGER",
                nullable: false,
                defaultValue: true);

            migrationBuilder.AddColumn<int>(
                name: "DatasetVersionId",
                table: "ModelVersions",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "Kind",
                table: "DataFiles",
                type: "TEXT",
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<string>(
                name: "LabelCountsJson",
                table: "DataFiles",
                type: "TEXT",
                nullable: false,
                defaultValue: "{}");

            migrationBuilder.AddColumn<string>(
                name: "Mapping",
                table: "DataFiles",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "Preview",
                table: "DataFiles",
                type: "TEXT",
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<string>(
                name: "ProblemsJson",
                table: "DataFiles",
                type: "TEXT",
                nullable: false,
                defaultValue: "[]");

            migrationBuilder.AddColumn<int>(
                name: "Records",
                table: "DataFiles",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<string>(
                name: "Status",
                table: "DataFiles",
                type: "TEXT",
                nullable: false,
                defaultValue: "Ready");

            // Files uploaded before this version hold their text as UTF-8 (.txt/.md): read them again through the new
            // pipeline so they get records, statistics and a preview; files with a problem stay out.
            migrationBuilder.Sql("UPDATE DataFiles SET Status = CASE WHEN Problem IS NULL THEN 'Waiting' ELSE 'Failed' END, " +
                "Kind = CASE WHEN lower(StoredName) LIKE '%.md' THEN 'Markdown' ELSE 'Text' END");

            migrationBuilder.CreateTable(
                name: "DatasetVersions",
                columns: table => new
                {
                    Id = table.Column<int>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    ProjectId = table.Column<int>(type: "INTEGER", nullable: false),
                    DatasetId = table.Column<string>(type: "TEXT", nullable: false),
                    ContentSha256 = table.Column<string>(type: "TEXT", nullable: false),
                    Folder = table.Column<string>(type: "TEXT", nullable: false),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    CreatedBy = table.Column<string>(type: "TEXT", nullable: false),
                    Task = table.Column<string>(type: "TEXT", nullable: false),
                    Sources = table.Column<int>(type: "INTEGER", nullable: false),
                    Records = table.Column<int>(type: "INTEGER", nullable: false),
                    Characters = table.Column<long>(type: "INTEGER", nullable: false),
                    EstimatedTokens = table.Column<long>(type: "INTEGER", nullable: false),
                    TrainRecords = table.Column<int>(type: "INTEGER", nullable: false),
                    ValidationRecords = table.Column<int>(type: "INTEGER", nullable: false),
                    ExactDuplicatesRemoved = table.Column<int>(type: "INTEGER", nullable: false),
                    NearDuplicatesRemoved = table.Column<int>(type: "INTEGER", nullable: false),
                    RedactionCountsJson = table.Column<string>(type: "TEXT", nullable: false),
                    SettingsJson = table.Column<string>(type: "TEXT", nullable: false),
                    SourcesJson = table.Column<string>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_DatasetVersions", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_Runs_DatasetVersionId",
                table: "Runs",
                column: "DatasetVersionId");

            migrationBuilder.CreateIndex(
                name: "IX_ModelVersions_DatasetVersionId",
                table: "ModelVersions",
                column: "DatasetVersionId");

            migrationBuilder.CreateIndex(
                name: "IX_DataFiles_ProjectId_Status",
                table: "DataFiles",
                columns: new[] { "ProjectId", "Status" });

            migrationBuilder.CreateIndex(
                name: "IX_DatasetVersions_ProjectId_DatasetId",
                table: "DatasetVersions",
                columns: new[] { "ProjectId", "DatasetId" },
                unique: true);

            migrationBuilder.AddForeignKey(
                name: "FK_ModelVersions_DatasetVersions_DatasetVersionId",
                table: "ModelVersions",
                column: "DatasetVersionId",
                principalTable: "DatasetVersions",
                principalColumn: "Id",
                onDelete: ReferentialAction.Restrict);

            migrationBuilder.AddForeignKey(
                name: "FK_Runs_DatasetVersions_DatasetVersionId",
                table: "Runs",
                column: "DatasetVersionId",
                principalTable: "DatasetVersions",
                principalColumn: "Id",
                onDelete: ReferentialAction.Restrict);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropForeignKey(
                name: "FK_ModelVersions_DatasetVersions_DatasetVersionId",
                table: "ModelVersions");

            migrationBuilder.DropForeignKey(
                name: "FK_Runs_DatasetVersions_DatasetVersionId",
                table: "Runs");

            migrationBuilder.DropTable(
                name: "DatasetVersions");

            migrationBuilder.DropIndex(
                name: "IX_Runs_DatasetVersionId",
                table: "Runs");

            migrationBuilder.DropIndex(
                name: "IX_ModelVersions_DatasetVersionId",
                table: "ModelVersions");

            migrationBuilder.DropIndex(
                name: "IX_DataFiles_ProjectId_Status",
                table: "DataFiles");

            migrationBuilder.DropColumn(
                name: "DatasetVersionId",
                table: "Runs");

            migrationBuilder.DropColumn(
                name: "DatasetVersionId",
                table: "Projects");

            migrationBuilder.DropColumn(
                name: "RedactPersonalData",
                table: "Projects");

            migrationBuilder.DropColumn(
                name: "RemoveDuplicates",
                table: "Projects");

            migrationBuilder.DropColumn(
                name: "DatasetVersionId",
                table: "ModelVersions");

            migrationBuilder.DropColumn(
                name: "Kind",
                table: "DataFiles");

            migrationBuilder.DropColumn(
                name: "LabelCountsJson",
                table: "DataFiles");

            migrationBuilder.DropColumn(
                name: "Mapping",
                table: "DataFiles");

            migrationBuilder.DropColumn(
                name: "Preview",
                table: "DataFiles");

            migrationBuilder.DropColumn(
                name: "ProblemsJson",
                table: "DataFiles");

            migrationBuilder.DropColumn(
                name: "Records",
                table: "DataFiles");

            migrationBuilder.DropColumn(
                name: "Status",
                table: "DataFiles");

            migrationBuilder.CreateIndex(
                name: "IX_DataFiles_ProjectId",
                table: "DataFiles",
                column: "ProjectId");
        }
    }
}
