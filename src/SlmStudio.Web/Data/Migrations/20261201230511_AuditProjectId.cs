using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace SlmStudio.Web.Data.Migrations
{
    /// <inheritdoc />
    public partial class AuditProjectId : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "OriginalDeletedAt",
                table: "DataFiles",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "ProjectId",
                table: "AuditLog",
                type: "INTEGER",
                nullable: true);

            // Entries written before this column carried the project as a "[project N] " prefix of the detail: move it here.
            migrationBuilder.Sql("""
                UPDATE "AuditLog"
                SET "ProjectId" = CAST(substr("Detail", 10, instr("Detail", ']') - 10) AS INTEGER),
                    "Detail" = ltrim(substr("Detail", instr("Detail", ']') + 1))
                WHERE "Detail" LIKE '[project %]%' AND instr("Detail", ']') > 10;
                """);

            migrationBuilder.CreateIndex(
                name: "IX_AuditLog_ProjectId_Id",
                table: "AuditLog",
                columns: new[] { "ProjectId", "Id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_AuditLog_ProjectId_Id",
                table: "AuditLog");

            migrationBuilder.DropColumn(
                name: "OriginalDeletedAt",
                table: "DataFiles");

            migrationBuilder.Sql("""
                UPDATE "AuditLog" SET "Detail" = '[project ' || "ProjectId" || '] ' || "Detail" WHERE "ProjectId" IS NOT NULL;
                """);

            migrationBuilder.DropColumn(
                name: "ProjectId",
                table: "AuditLog");
        }
    }
}
